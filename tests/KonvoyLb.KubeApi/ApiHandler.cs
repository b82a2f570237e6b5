using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace KonvoyLb.KubeApi;

/// <summary>Handles every HTTP request the way kube-apiserver does, for the resources in <see cref="Catalog"/>.</summary>
internal sealed class ApiHandler
{
    readonly Registry _registry;
    readonly FakeKubeOptions _options;
    readonly KubeFaults _faults;
    readonly ConcurrentQueue<string> _log = new();
    readonly CancellationToken _stopping;
    readonly string _openApiHash = Convert.ToHexString(Guid.NewGuid().ToByteArray());

    public ApiHandler(Registry registry, FakeKubeOptions options, KubeFaults faults, CancellationToken stopping)
    {
        _registry = registry;
        _options = options;
        _faults = faults;
        _stopping = stopping;
    }

    Store Store => _registry.Store;

    public IReadOnlyList<string> RequestLog => [.. _log];

    /// <summary>Who asked what: for a request on a resource.</summary>
    sealed record Target(string Verb, ResourceType Type, string? Namespace, string? Name, string? Subresource, bool WatchPath);

    public async Task HandleAsync(HttpContext ctx)
    {
        var request = ctx.Request;
        var path = request.Path.Value ?? "/";
        var entry = $"{request.Method} {path}{request.QueryString.Value}";
        _log.Enqueue(entry);
        _options.OnRequest?.Invoke(entry + $" [{request.Headers.Accept}]");
        while (_log.Count > _options.RequestLogLimit) _log.TryDequeue(out _);
        if (_faults.Outage)
        {
            ctx.Abort();
            return;
        }
        try
        {
            var latency = _faults.Latency;
            if (latency > TimeSpan.Zero) await Task.Delay(latency, ctx.RequestAborted);

            var token = _faults.EffectiveToken(_options.Token);
            if (token is not null && request.Headers.Authorization.ToString() != "Bearer " + token)
                throw Status.Unauthorized();

            var segments = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
            var target = ParseTarget(request, segments);
            if (target is not null && _options.OnAccess is { } onAccess)
            {
                var bearer = request.Headers.Authorization.ToString();
                onAccess(new ApiAccess(target.Verb, target.Type.Group, target.Subresource is null ? target.Type.Plural : $"{target.Type.Plural}/{target.Subresource}", target.Namespace,
                    bearer.StartsWith("Bearer ", StringComparison.Ordinal) ? bearer["Bearer ".Length..] : null));
            }
            if (_faults.TakeFailure(target?.Verb ?? Verb(request, hasName: true), target?.Type.Plural, path) is { } injected)
                throw injected;

            if (target is null)
            {
                await ServeNonResource(ctx, segments);
                return;
            }
            var authzResource = target.Subresource is null ? target.Type.Plural : $"{target.Type.Plural}/{target.Subresource}";
            if (_faults.IsForbidden(target.Verb, authzResource))
                throw Status.Forbidden(_options.UserName, target.Verb, target.Type.Group, target.Type.Plural, target.Subresource, target.Name, target.Namespace);
            await ServeResource(ctx, target);
        }
        catch (KubeApiException e)
        {
            await WriteError(ctx, e);
        }
        catch (JsonException e)
        {
            await WriteError(ctx, Status.BadRequest($"error decoding the request body: {e.Message}"));
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested || _stopping.IsCancellationRequested)
        {
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            await WriteError(ctx, new KubeApiException(500, "InternalError", $"Internal error occurred: {e.Message}"));
        }
    }

    static string Verb(HttpRequest request, bool hasName) => request.Method switch
    {
        "GET" or "HEAD" => IsWatch(request) ? "watch" : hasName ? "get" : "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => hasName ? "delete" : "deletecollection",
        _ => request.Method.ToLowerInvariant(),
    };

    static bool IsWatch(HttpRequest request) => request.Query["watch"].ToString() is "true" or "1";

    static readonly KubeApiException NoSuchPath =
        new(404, "NotFound", "the server could not find the requested resource", new JsonObject());

    /// <summary>Maps /api/v1/... and /apis/g/v/... onto a resource; null for everything else (discovery, /version, ...).</summary>
    static Target? ParseTarget(HttpRequest request, string[] s)
    {
        string group, version;
        int rest;
        if (s.Length >= 3 && s[0] == "api") { group = ""; version = s[1]; rest = 2; }
        else if (s.Length >= 4 && s[0] == "apis") { group = s[1]; version = s[2]; rest = 3; }
        else return null;

        var parts = s[rest..];
        var watchPath = parts[0] == "watch";
        if (watchPath) parts = parts[1..];
        if (parts.Length == 0) throw NoSuchPath;
        string? ns = null;
        if (parts[0] == "namespaces" && parts.Length >= 3 && !(parts.Length == 3 && parts[2] is "status" or "finalize"))
        {
            ns = parts[1];
            parts = parts[2..];
        }
        var type = Catalog.Find(group, version, parts[0]) ?? throw NoSuchPath;
        if (parts.Length > 3 || (ns is not null && !type.Namespaced)) throw NoSuchPath;
        var name = parts.Length > 1 ? parts[1] : null;
        var sub = parts.Length > 2 ? parts[2] : null;
        if (sub is not null && !(sub == "status" && type.HasStatus) && !(sub == "scale" && type.HasScale)) throw NoSuchPath;
        if (name is not null && type.Namespaced && ns is null) throw NoSuchPath;
        var verb = watchPath ? "watch" : Verb(request, name is not null);
        if (sub is not null && verb is not ("get" or "update" or "patch"))
            throw Status.MethodNotSupported(type.Group, type.Plural, verb);
        return new Target(verb, type, ns, name, sub, watchPath);
    }

    async Task ServeNonResource(HttpContext ctx, string[] s)
    {
        var joined = string.Join('/', s);
        var accept = ctx.Request.Headers.Accept.ToString();
        if (ctx.Request.Method is not ("GET" or "HEAD"))
            throw new KubeApiException(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
        switch (joined)
        {
            case "":
                await WriteJson(ctx, 200, Discovery.RootPaths());
                return;
            case "version":
                await WriteJson(ctx, 200, Discovery.Version(_options.GitVersion));
                return;
            case "healthz" or "livez" or "readyz":
                ctx.Response.ContentType = "text/plain; charset=utf-8";
                await ctx.Response.WriteAsync("ok");
                return;
            case "api" or "apis":
            {
                var aggregated = _options.AggregatedDiscovery ? Discovery.AggregatedVersionAsked(accept) : null;
                if (aggregated is not null)
                {
                    await WriteJson(ctx, 200, Discovery.Aggregated(joined == "api", aggregated),
                        aggregated == "v2" ? Discovery.AggregatedV2 : Discovery.AggregatedV2Beta1);
                    return;
                }
                await WriteJson(ctx, 200, joined == "api"
                    ? Discovery.ApiVersions($"{ctx.Request.Host.Host}:{ctx.Connection.LocalPort}")
                    : Discovery.GroupList());
                return;
            }
            case "api/v1":
                await WriteJson(ctx, 200, Discovery.ResourceList("", "v1"));
                return;
        }
        if (joined == "openapi/v3")
        {
            await WriteJson(ctx, 200, OpenApi.Root(_openApiHash));
            return;
        }
        if (joined.StartsWith("openapi/v3/", StringComparison.Ordinal) &&
            OpenApi.GroupVersionDocument(joined["openapi/v3/".Length..], _options.GitVersion) is { } document)
        {
            await WriteJson(ctx, 200, document);
            return;
        }
        if (s.Length == 2 && s[0] == "apis" && Catalog.Groups.Contains(s[1]))
        {
            await WriteJson(ctx, 200, Discovery.Group(s[1]));
            return;
        }
        if (s.Length == 3 && s[0] == "apis" && Catalog.Groups.Contains(s[1]) && s[2] == "v1")
        {
            await WriteJson(ctx, 200, Discovery.ResourceList(s[1], "v1"));
            return;
        }
        throw NoSuchPath;
    }

    async Task ServeResource(HttpContext ctx, Target t)
    {
        var q = ctx.Request.Query;
        string? Q(string key) => q.TryGetValue(key, out var v) ? v.ToString() : null;
        var rt = t.Type;
        var ns = rt.Namespaced ? t.Namespace : "";
        var wantsTable = ctx.Request.Headers.Accept.ToString().Contains("as=Table", StringComparison.Ordinal);

        if (t.Subresource == "scale")
        {
            await ServeScale(ctx, t, ns!);
            return;
        }

        switch (t.Verb)
        {
            case "get":
            {
                var obj = Store.Get(rt, ns!, t.Name!) ?? throw Status.NotFound(rt.Group, rt.Plural, t.Name!);
                if (wantsTable) await WriteJson(ctx, 200, Tables.Build(rt, [obj], Store.CurrentRv, Q("includeObject") == "Object"), TableType);
                else await WriteJson(ctx, 200, obj);
                return;
            }
            case "list":
            {
                var labels = LabelSelector.Parse(Q("labelSelector"));
                var fields = FieldSelector.Parse(Q("fieldSelector"), rt);
                var (items, rv) = Store.List(rt, ns, labels, fields);
                var (page, continueToken, remaining) = Paginate(items, Q("limit"), Q("continue"), rv);
                if (wantsTable)
                {
                    await WriteJson(ctx, 200, Tables.Build(rt, page, rv, Q("includeObject") == "Object", continueToken), TableType);
                    return;
                }
                var meta = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) };
                if (continueToken is not null)
                {
                    meta["continue"] = continueToken;
                    meta["remainingItemCount"] = remaining;
                }
                var array = new JsonArray();
                foreach (var item in page)
                {
                    item.Remove("kind");
                    item.Remove("apiVersion");
                    array.Add(item);
                }
                await WriteJson(ctx, 200, new JsonObject { ["kind"] = rt.ListKind, ["apiVersion"] = rt.GroupVersion, ["metadata"] = meta, ["items"] = array });
                return;
            }
            case "watch":
                await ServeWatch(ctx, t, ns, Q);
                return;
            case "create":
            {
                if (t.Name is not null) throw Status.MethodNotSupported(rt.Group, rt.Plural, "create");
                var body = await ReadObject(ctx);
                var created = _registry.Create(rt, ns ?? "", body);
                await WriteJson(ctx, 201, created);
                return;
            }
            case "update":
            {
                var body = await ReadObject(ctx);
                await WriteJson(ctx, 200, _registry.Update(rt, ns!, t.Name!, body, t.Subresource));
                return;
            }
            case "patch":
            {
                var mediaType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
                var patch = await ReadBody(ctx);
                if (mediaType == Patching.ApplyPatch)
                {
                    var (applied, created) = _registry.Apply(rt, ns!, t.Name!, patch as JsonObject ?? throw Status.BadRequest("an apply patch must be an object"), t.Subresource);
                    await WriteJson(ctx, created ? 201 : 200, applied);
                    return;
                }
                await WriteJson(ctx, 200, _registry.Patch(rt, ns!, t.Name!, patch, mediaType, t.Subresource));
                return;
            }
            case "delete":
            {
                var body = await ReadBody(ctx) as JsonObject;
                var result = _registry.Delete(rt, ns!, t.Name!, DeleteOptions.From(body, Q));
                await WriteJson(ctx, 200, result);
                return;
            }
            case "deletecollection":
            {
                if (!rt.CanDeleteCollection) throw Status.MethodNotSupported(rt.Group, rt.Plural, "deletecollection");
                var body = await ReadBody(ctx) as JsonObject;
                var labels = LabelSelector.Parse(Q("labelSelector"));
                var fields = FieldSelector.Parse(Q("fieldSelector"), rt);
                await WriteJson(ctx, 200, _registry.DeleteCollection(rt, ns, labels, fields, DeleteOptions.From(body, Q)));
                return;
            }
            default:
                throw new KubeApiException(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
        }
    }

    async Task ServeScale(HttpContext ctx, Target t, string ns)
    {
        switch (t.Verb)
        {
            case "get":
                await WriteJson(ctx, 200, _registry.GetScale(t.Type, ns, t.Name!));
                return;
            case "update":
            {
                var body = await ReadObject(ctx);
                await WriteJson(ctx, 200, _registry.UpdateScale(t.Type, ns, t.Name!, _ => body));
                return;
            }
            case "patch":
            {
                var mediaType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
                var patch = await ReadBody(ctx);
                await WriteJson(ctx, 200, _registry.UpdateScale(t.Type, ns, t.Name!, scale => Patching.Apply(scale, patch,
                    mediaType == Patching.ApplyPatch ? Patching.StrategicMergePatch : mediaType)));
                return;
            }
            default:
                throw Status.MethodNotSupported(t.Type.Group, t.Type.Plural, t.Verb);
        }
    }

    const string TableType = "application/json;as=Table;v=v1;g=meta.k8s.io";

    /// <summary>limit/continue: a continue token is the last key served, opaque to clients.</summary>
    static (List<JsonObject> Page, string? Continue, long Remaining) Paginate(List<JsonObject> items, string? limitText, string? continueToken, long rv)
    {
        if (!string.IsNullOrEmpty(continueToken))
        {
            string after;
            try
            {
                var decoded = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(continueToken)));
                after = decoded.Str("start") ?? throw new FormatException();
            }
            catch (Exception e) when (e is FormatException or JsonException)
            {
                throw Status.BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
            }
            items = items.Where(i => string.CompareOrdinal(KeyOf(i), after) > 0).ToList();
        }
        if (!long.TryParse(limitText, out var limit) || limit <= 0 || items.Count <= limit) return (items, null, 0);
        var page = items.Take((int)limit).ToList();
        var token = Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "meta.k8s.io/v1", ["rv"] = rv, ["start"] = KeyOf(page[^1]) }.Text()));
        return (page, token, items.Count - page.Count);
    }

    static string KeyOf(JsonObject o) => (o.Str("metadata.namespace") ?? "") + "/" + o.Str("metadata.name");

    async Task ServeWatch(HttpContext ctx, Target t, string? ns, Func<string, string?> q)
    {
        var fieldText = q("fieldSelector");
        if (t.Name is not null)
            fieldText = string.IsNullOrEmpty(fieldText) ? $"metadata.name={t.Name}" : $"{fieldText},metadata.name={t.Name}";
        var labels = LabelSelector.Parse(q("labelSelector"));
        var fields = FieldSelector.Parse(fieldText, t.Type);
        Func<JsonObject, JsonObject>? transform = null;
        if (ctx.Request.Headers.Accept.ToString().Contains("as=Table", StringComparison.Ordinal))
        {
            var includeObject = q("includeObject") == "Object";
            transform = obj => Tables.Build(t.Type, [obj], obj.Long("metadata.resourceVersion"), includeObject);
        }
        var sub = Store.Watch(t.Type, ns, labels, fields, q("resourceVersion"), transform);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, sub.Dropped.Token, _stopping);
        if (long.TryParse(q("timeoutSeconds"), out var timeout) && timeout > 0) cts.CancelAfter(TimeSpan.FromSeconds(timeout));
        Task? bookmarks = null;
        if (q("allowWatchBookmarks") is "true" or "1")
            bookmarks = SendBookmarks(sub, cts.Token);

        var response = ctx.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-cache, private";
        try
        {
            await response.StartAsync(cts.Token);
            await response.Body.FlushAsync(cts.Token);
            var reader = sub.Lines.Reader;
            while (await reader.WaitToReadAsync(cts.Token))
            {
                while (reader.TryRead(out var line))
                {
                    if (sub.Dropped.IsCancellationRequested && sub.AbortConnection) break;
                    await response.WriteAsync(line + "\n", cts.Token);
                }
                await response.Body.FlushAsync(cts.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Store.Unsubscribe(sub);
            cts.Cancel();
            if (bookmarks is not null) await bookmarks;
            if (sub.AbortConnection) ctx.Abort();
        }
    }

    async Task SendBookmarks(WatchSubscription sub, CancellationToken token)
    {
        try
        {
            using var timer = new PeriodicTimer(_options.BookmarkInterval);
            while (await timer.WaitForNextTickAsync(token)) Store.Bookmark(sub);
        }
        catch (OperationCanceledException) { }
    }

    static async Task<JsonNode?> ReadBody(HttpContext ctx)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(ctx.RequestAborted);
        if (string.IsNullOrWhiteSpace(text)) return null;
        var type = ctx.Request.ContentType ?? "";
        if ((type.Contains("yaml", StringComparison.OrdinalIgnoreCase) || type.Contains("protobuf", StringComparison.OrdinalIgnoreCase) ||
             type.Contains("cbor", StringComparison.OrdinalIgnoreCase)) && !text.TrimStart().StartsWith('{'))
            throw new KubeApiException(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json");
        return JsonNode.Parse(text);
    }

    static async Task<JsonObject> ReadObject(HttpContext ctx) =>
        await ReadBody(ctx) as JsonObject ?? throw Status.BadRequest("the request body must be a JSON object");

    static async Task WriteJson(HttpContext ctx, int code, JsonNode body, string contentType = "application/json")
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = contentType;
        var bytes = Encoding.UTF8.GetBytes(body.Text());
        ctx.Response.ContentLength = bytes.Length;
        if (ctx.Request.Method != "HEAD") await ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted);
    }

    static Task WriteError(HttpContext ctx, KubeApiException e)
    {
        if (ctx.Response.HasStarted) return Task.CompletedTask;
        if (e.Code == 429) ctx.Response.Headers.RetryAfter = "1";
        return WriteJson(ctx, e.Code, e.ToStatus());
    }
}
