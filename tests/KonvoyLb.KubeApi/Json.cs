using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>Small helpers over <see cref="JsonNode"/> for Kubernetes objects.</summary>
internal static class Json
{
    /// <summary>How the fake writes JSON: compact, with quotes as \" rather than \u0022 (like the real server).</summary>
    public static readonly JsonSerializerOptions Wire = new()
    {
        WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Text(this JsonNode node) => node.ToJsonString(Wire);

    public static JsonObject Metadata(this JsonObject obj)
    {
        if (obj["metadata"] is JsonObject m) return m;
        var created = new JsonObject();
        obj["metadata"] = created;
        return created;
    }

    public static string? Str(this JsonNode? node, string path)
    {
        var n = At(node, path);
        if (n is not JsonValue v) return null;
        return v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Number => v.ToJsonString(),
            _ => null,
        };
    }

    /// <summary>The string value of a node, or null when it is not a JSON string.</summary>
    public static string? AsString(this JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    /// <summary>The node at a dotted path (<c>metadata.name</c>), or null.</summary>
    public static JsonNode? At(this JsonNode? node, string path)
    {
        foreach (var part in path.Split('.'))
        {
            if (node is not JsonObject o || !o.TryGetPropertyValue(part, out node)) return null;
        }
        return node;
    }

    public static JsonObject Obj(this JsonObject parent, string name)
    {
        if (parent[name] is JsonObject o) return o;
        var created = new JsonObject();
        parent[name] = created;
        return created;
    }

    public static long Long(this JsonNode? node, string path, long fallback = 0)
    {
        var n = At(node, path);
        // A JsonValue made from an int does not convert to long itself: go through its JSON text.
        return n is JsonValue v && v.GetValueKind() == JsonValueKind.Number &&
               long.TryParse(v.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : fallback;
    }

    public static IReadOnlyDictionary<string, string> Labels(this JsonObject obj)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (obj.At("metadata.labels") is JsonObject labels)
            foreach (var (k, v) in labels)
                if (v is JsonValue value && value.GetValueKind() == JsonValueKind.String) result[k] = value.GetValue<string>();
        return result;
    }

    public static JsonObject ToObject(IReadOnlyDictionary<string, string>? map)
    {
        var o = new JsonObject();
        if (map is not null)
            foreach (var (k, v) in map) o[k] = v;
        return o;
    }

    /// <summary>RFC 3339 in UTC with whole seconds, as Kubernetes writes metav1.Time.</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset? ParseTime(string? s) =>
        DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : null;

    /// <summary>Turns whatever a caller hands in (JsonNode, JSON text, an anonymous or typed object) into a fresh JsonObject.</summary>
    public static JsonObject From(object value) => value switch
    {
        JsonObject o => (JsonObject)o.DeepClone(),
        JsonNode n => n as JsonObject ?? throw new ArgumentException("expected a JSON object"),
        string s => JsonNode.Parse(s) as JsonObject ?? throw new ArgumentException("expected a JSON object"),
        JsonElement e => JsonNode.Parse(e.GetRawText()) as JsonObject ?? throw new ArgumentException("expected a JSON object"),
        _ => JsonNode.Parse(JsonSerializer.Serialize(value, value.GetType(), WebLike)) as JsonObject
             ?? throw new ArgumentException("expected an object"),
    };

    static readonly JsonSerializerOptions WebLike = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static JsonObject Clone(this JsonObject o) => (JsonObject)o.DeepClone();
}
