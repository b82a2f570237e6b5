using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>
/// A skeletal OpenAPI v3 (/openapi/v3 and one document per group version): paths and operations with
/// their x-kubernetes-group-version-kind and the fieldValidation parameter, but no schemas. That is
/// what kubectl create/apply look for to leave validation to the server (which here accepts
/// everything) instead of failing to download a schema; kubectl then builds strategic merge patches
/// from its compiled-in types.
/// </summary>
internal static class OpenApi
{
    static string PathOf(string group, string version) => group.Length == 0 ? $"api/{version}" : $"apis/{group}/{version}";

    public static JsonObject Root(string hash)
    {
        var paths = new JsonObject();
        foreach (var (group, version) in GroupVersions())
            paths[PathOf(group, version)] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{PathOf(group, version)}?hash={hash}" };
        return new JsonObject { ["paths"] = paths };
    }

    static IEnumerable<(string Group, string Version)> GroupVersions() =>
        Catalog.All.Select(r => (r.Group, r.Version)).Distinct();

    /// <summary>The document for "api/v1" or "apis/apps/v1"; null for another path.</summary>
    public static JsonObject? GroupVersionDocument(string path, string serverVersion)
    {
        var match = GroupVersions().Where(gv => PathOf(gv.Group, gv.Version) == path).ToList();
        if (match.Count == 0) return null;
        var (group, version) = match[0];
        var paths = new JsonObject();
        foreach (var rt in Catalog.In(group, version))
        {
            var prefix = "/" + PathOf(group, version) + (rt.Namespaced ? "/namespaces/{namespace}" : "");
            paths[$"{prefix}/{rt.Plural}"] = new JsonObject
            {
                ["get"] = Operation(rt, "list", "list" + rt.Kind),
                ["post"] = Operation(rt, "post", "create" + rt.Kind, "application/json"),
                ["delete"] = Operation(rt, "deletecollection", "deleteCollection" + rt.Kind),
            };
            paths[$"{prefix}/{rt.Plural}/{{name}}"] = new JsonObject
            {
                ["get"] = Operation(rt, "get", "read" + rt.Kind),
                ["put"] = Operation(rt, "put", "replace" + rt.Kind, "application/json"),
                ["patch"] = Operation(rt, "patch", "patch" + rt.Kind,
                    "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"),
                ["delete"] = Operation(rt, "delete", "delete" + rt.Kind),
            };
            if (rt.HasStatus)
                paths[$"{prefix}/{rt.Plural}/{{name}}/status"] = new JsonObject
                {
                    ["get"] = Operation(rt, "get", "read" + rt.Kind + "Status"),
                    ["put"] = Operation(rt, "put", "replace" + rt.Kind + "Status", "application/json"),
                    ["patch"] = Operation(rt, "patch", "patch" + rt.Kind + "Status",
                        "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"),
                };
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = serverVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }

    static JsonObject Operation(ResourceType rt, string action, string operationId, params string[] bodyTypes)
    {
        var parameters = new JsonArray();
        foreach (var p in new[] { "dryRun", "fieldManager", "fieldValidation", "pretty" })
            parameters.Add(new JsonObject { ["name"] = p, ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } });
        var op = new JsonObject
        {
            ["tags"] = new JsonArray(rt.Group.Length == 0 ? "core_v1" : $"{rt.Group.Split('.')[0]}_{rt.Version}"),
            ["operationId"] = operationId,
            ["parameters"] = parameters,
            ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
            ["x-kubernetes-action"] = action,
            ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = rt.Group, ["version"] = rt.Version, ["kind"] = rt.Kind },
        };
        if (bodyTypes.Length > 0)
        {
            var content = new JsonObject();
            foreach (var t in bodyTypes) content[t] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "object" } };
            op["requestBody"] = new JsonObject { ["content"] = content, ["required"] = true };
        }
        return op;
    }
}
