using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>
/// An API error as the real server reports it: an HTTP status code and a <c>kind: Status</c> body
/// with <c>reason</c>, <c>message</c> and optional <c>details</c>. Thrown inside the fake and turned
/// into the response; also thrown by the in-process helpers of <see cref="FakeKubeApi"/>.
/// </summary>
public sealed class KubeApiException : Exception
{
    public KubeApiException(int code, string reason, string message, JsonObject? details = null)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Details = details;
    }

    /// <summary>The HTTP status code (404, 409, 403, ...).</summary>
    public int Code { get; }

    /// <summary>The Status reason (NotFound, AlreadyExists, Conflict, Forbidden, ...).</summary>
    public string Reason { get; }

    public JsonObject? Details { get; }

    /// <summary>The <c>kind: Status</c> object the real API server sends for this error.</summary>
    public JsonObject ToStatus() => Status.Failure(Code, Reason, Message, Details);
}

/// <summary>Builders for <c>meta/v1 Status</c> objects and the common API errors.</summary>
internal static class Status
{
    public static JsonObject Failure(int code, string reason, string message, JsonObject? details = null)
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
        };
        if (!string.IsNullOrEmpty(reason)) status["reason"] = reason;
        if (details is not null) status["details"] = details.DeepClone();
        status["code"] = code;
        return status;
    }

    public static JsonObject Success(string name, string group, string kindPlural, string? uid)
    {
        var details = Details(name, group, kindPlural);
        if (uid is not null) details["uid"] = uid;
        return new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["details"] = details,
        };
    }

    public static JsonObject Details(string? name, string group, string kindPlural)
    {
        var d = new JsonObject();
        if (!string.IsNullOrEmpty(name)) d["name"] = name;
        if (!string.IsNullOrEmpty(group)) d["group"] = group;
        d["kind"] = kindPlural;
        return d;
    }

    /// <summary><c>pods "x"</c>, or <c>pods.apps "x"</c> for a named group, as the API server's messages spell a resource.</summary>
    public static string Qualified(string group, string plural) => string.IsNullOrEmpty(group) ? plural : $"{plural}.{group}";

    public static KubeApiException NotFound(string group, string plural, string name) =>
        new(404, "NotFound", $"{Qualified(group, plural)} \"{name}\" not found", Details(name, group, plural));

    public static KubeApiException AlreadyExists(string group, string plural, string name) =>
        new(409, "AlreadyExists", $"{Qualified(group, plural)} \"{name}\" already exists", Details(name, group, plural));

    public static KubeApiException Conflict(string group, string plural, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {Qualified(group, plural)} \"{name}\": {why}", Details(name, group, plural));

    public static KubeApiException StaleResourceVersion(string group, string plural, string name) =>
        Conflict(group, plural, name, "the object has been modified; please apply your changes to the latest version and try again");

    public static KubeApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static KubeApiException Invalid(string group, string kind, string name, string field, string problem)
    {
        var details = new JsonObject { ["name"] = name };
        if (!string.IsNullOrEmpty(group)) details["group"] = group;
        details["kind"] = kind;
        details["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueRequired", ["message"] = problem, ["field"] = field });
        return new(422, "Invalid", $"{kind} \"{name}\" is invalid: {field}: {problem}", details);
    }

    public static KubeApiException MethodNotSupported(string group, string plural, string action) =>
        new(405, "MethodNotAllowed", $"{action} is not supported on resources of kind \"{Qualified(group, plural)}\"", Details(null, group, plural));

    /// <summary>The message format of the real authorizer's denial.</summary>
    public static KubeApiException Forbidden(string user, string verb, string group, string plural, string? subresource, string? name, string? ns)
    {
        var resource = subresource is null ? plural : $"{plural}/{subresource}";
        var subject = name is null ? Qualified(group, resource) : $"{Qualified(group, resource)} \"{name}\"";
        var scope = ns is null ? "at the cluster scope" : $"in the namespace \"{ns}\"";
        var message = $"{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}";
        return new(403, "Forbidden", message, Details(name, group, plural));
    }

    public static KubeApiException Unauthorized() => new(401, "Unauthorized", "Unauthorized");

    /// <summary>The reason the real server gives for a bare HTTP status code.</summary>
    public static string ReasonFor(int code) => code switch
    {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    };
}
