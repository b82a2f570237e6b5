using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>The patch formats the API accepts, applied to JSON objects.</summary>
internal static class Patching
{
    public const string MergePatch = "application/merge-patch+json";
    public const string StrategicMergePatch = "application/strategic-merge-patch+json";
    public const string JsonPatch = "application/json-patch+json";
    public const string ApplyPatch = "application/apply-patch+yaml";

    /// <summary>Applies a patch of the given media type to a copy of <paramref name="target"/>.</summary>
    public static JsonObject Apply(JsonObject target, JsonNode? patch, string mediaType)
    {
        switch (mediaType)
        {
            case MergePatch:
                return MergeInto(target.Clone(), patch as JsonObject ?? throw Status.BadRequest("a merge patch must be a JSON object"), strategic: false);
            case StrategicMergePatch:
                // Our kinds are patched as JSON merge patches; the strategic directives ($patch,
                // $setElementOrder/..., $retainKeys, $deleteFromPrimitiveList/...) are dropped.
                return MergeInto(target.Clone(), patch as JsonObject ?? throw Status.BadRequest("a strategic merge patch must be a JSON object"), strategic: true);
            case JsonPatch:
                return ApplyJsonPatch(target, patch as JsonArray ?? throw Status.BadRequest("a JSON patch must be a JSON array"));
            default:
                throw new KubeApiException(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: {JsonPatch}, {MergePatch}, {StrategicMergePatch}");
        }
    }

    /// <summary>RFC 7386: objects merge recursively, null deletes, anything else replaces.</summary>
    public static JsonObject MergeInto(JsonObject target, JsonObject patch, bool strategic)
    {
        foreach (var (key, value) in patch.ToList())
        {
            if (strategic && key.StartsWith('$')) continue;
            if (value is null) { target.Remove(key); continue; }
            if (value is JsonObject po)
            {
                if (strategic && po["$patch"].AsString() == "delete") { target.Remove(key); continue; }
                if (strategic && po["$patch"].AsString() == "replace")
                {
                    var replaced = po.Clone();
                    replaced.Remove("$patch");
                    target[key] = replaced;
                    continue;
                }
                if (target[key] is JsonObject existing) MergeInto(existing, po, strategic);
                else target[key] = MergeInto(new JsonObject(), po, strategic);
                continue;
            }
            target[key] = value.DeepClone();
        }
        return target;
    }

    static JsonObject ApplyJsonPatch(JsonObject target, JsonArray ops)
    {
        JsonNode root = target.Clone();
        foreach (var opNode in ops)
        {
            if (opNode is not JsonObject op) throw Status.BadRequest("a JSON patch operation must be an object");
            var kind = op.Str("op") ?? throw Status.BadRequest("JSON patch operation has no \"op\"");
            var path = op.Str("path") ?? throw Status.BadRequest($"JSON patch operation \"{kind}\" has no \"path\"");
            switch (kind)
            {
                case "add": root = Add(root, path, Value(op)); break;
                case "remove": root = Remove(root, path, out _); break;
                case "replace":
                    root = Remove(root, path, out _);
                    root = Add(root, path, Value(op));
                    break;
                case "move":
                {
                    var from = op.Str("from") ?? throw Status.BadRequest("JSON patch \"move\" has no \"from\"");
                    root = Remove(root, from, out var moved);
                    root = Add(root, path, moved);
                    break;
                }
                case "copy":
                {
                    var from = op.Str("from") ?? throw Status.BadRequest("JSON patch \"copy\" has no \"from\"");
                    root = Add(root, path, Resolve(root, from)?.DeepClone());
                    break;
                }
                case "test":
                {
                    var actual = Resolve(root, path);
                    if (!JsonNode.DeepEquals(actual, op["value"]))
                        throw new KubeApiException(422, "Invalid", $"the server rejected our request due to an error in our request: testing value {path} failed: test failed");
                    break;
                }
                default:
                    throw Status.BadRequest($"unexpected JSON patch operation \"{kind}\"");
            }
        }
        return root as JsonObject ?? throw Status.BadRequest("a JSON patch must leave an object");
    }

    static JsonNode? Value(JsonObject op) =>
        op.TryGetPropertyValue("value", out var v) ? v?.DeepClone() : throw Status.BadRequest("JSON patch operation has no \"value\"");

    static string[] Tokens(string pointer)
    {
        if (pointer.Length == 0) return [];
        if (pointer[0] != '/') throw Status.BadRequest($"JSON pointer \"{pointer}\" does not start with '/'");
        return pointer[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();
    }

    static JsonNode? Resolve(JsonNode? node, string pointer)
    {
        foreach (var t in Tokens(pointer))
        {
            node = node switch
            {
                JsonObject o => o.TryGetPropertyValue(t, out var child) ? child : throw Missing(pointer),
                JsonArray a when int.TryParse(t, out var idx) && idx >= 0 && idx < a.Count => a[idx],
                _ => throw Missing(pointer),
            };
        }
        return node;
    }

    static KubeApiException Missing(string pointer) =>
        new(422, "Invalid", $"the server rejected our request due to an error in our request: doc is missing path: \"{pointer}\": missing value");

    static JsonNode Add(JsonNode root, string pointer, JsonNode? value)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0) return value ?? throw Status.BadRequest("cannot replace the whole document with null");
        var parent = Resolve(root, ParentPointer(tokens));
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a:
                if (last == "-") a.Add(value);
                else if (int.TryParse(last, out var idx) && idx >= 0 && idx <= a.Count) a.Insert(idx, value);
                else throw Missing(pointer);
                break;
            default:
                throw Missing(pointer);
        }
        return root;
    }

    static JsonNode Remove(JsonNode root, string pointer, out JsonNode? removed)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0) throw Status.BadRequest("cannot remove the whole document");
        var parent = Resolve(root, ParentPointer(tokens));
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o when o.TryGetPropertyValue(last, out removed):
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, out var idx) && idx >= 0 && idx < a.Count:
                removed = a[idx];
                a.RemoveAt(idx);
                break;
            default:
                throw Missing(pointer);
        }
        return root;
    }

    static string ParentPointer(string[] tokens) =>
        tokens.Length <= 1 ? "" : "/" + string.Join('/', tokens[..^1].Select(Escape));

    static string Escape(string token) => token.Replace("~", "~0").Replace("/", "~1");
}
