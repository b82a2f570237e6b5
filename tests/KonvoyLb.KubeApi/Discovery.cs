using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>The discovery documents: legacy (/api, /api/v1, /apis, /apis/g, /apis/g/v) and aggregated (apidiscovery.k8s.io/v2).</summary>
internal static class Discovery
{
    public const string AggregatedV2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    public const string AggregatedV2Beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

    /// <summary>Which aggregated format the Accept header asks for (v2 preferred), or null for the legacy documents.</summary>
    public static string? AggregatedVersionAsked(string accept)
    {
        if (!accept.Contains("as=APIGroupDiscoveryList", StringComparison.Ordinal)) return null;
        foreach (var part in accept.Split(','))
        {
            if (!part.Contains("as=APIGroupDiscoveryList", StringComparison.Ordinal) || !part.Contains("g=apidiscovery.k8s.io", StringComparison.Ordinal)) continue;
            if (part.Contains("v=v2beta1", StringComparison.Ordinal)) return "v2beta1";
            if (part.Contains("v=v2", StringComparison.Ordinal)) return "v2";
        }
        return null;
    }

    public static JsonObject Version(string gitVersion)
    {
        var core = gitVersion.TrimStart('v').Split('-', '+')[0].Split('.');
        return new JsonObject
        {
            ["major"] = core.ElementAtOrDefault(0) ?? "1",
            ["minor"] = core.ElementAtOrDefault(1) ?? "0",
            ["gitVersion"] = gitVersion,
            ["gitCommit"] = "0000000000000000000000000000000000000000",
            ["gitTreeState"] = "clean",
            ["buildDate"] = "2025-01-01T00:00:00Z",
            ["goVersion"] = "go1.23.6",
            ["compiler"] = "gc",
            ["platform"] = "linux/amd64",
        };
    }

    public static JsonObject ApiVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    static JsonObject GroupVersion(string group, string version) => new()
    {
        ["groupVersion"] = $"{group}/{version}",
        ["version"] = version,
    };

    public static JsonObject Group(string group) => new()
    {
        ["kind"] = "APIGroup",
        ["apiVersion"] = "v1",
        ["name"] = group,
        ["versions"] = new JsonArray(GroupVersion(group, "v1")),
        ["preferredVersion"] = GroupVersion(group, "v1"),
    };

    public static JsonObject GroupList()
    {
        var groups = new JsonArray();
        foreach (var g in Catalog.Groups)
        {
            var doc = Group(g);
            doc.Remove("kind");
            doc.Remove("apiVersion");
            groups.Add(doc);
        }
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    static JsonArray Strings(IEnumerable<string> items) => new(items.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());

    public static JsonObject ResourceList(string group, string version)
    {
        var resources = new JsonArray();
        foreach (var rt in Catalog.In(group, version))
        {
            var r = new JsonObject
            {
                ["name"] = rt.Plural,
                ["singularName"] = rt.Singular,
                ["namespaced"] = rt.Namespaced,
                ["kind"] = rt.Kind,
                ["verbs"] = Strings(rt.Verbs),
            };
            if (rt.ShortNames.Length > 0) r["shortNames"] = Strings(rt.ShortNames);
            if (rt.Categories.Length > 0) r["categories"] = Strings(rt.Categories);
            resources.Add(r);
            if (rt.HasStatus)
                resources.Add(new JsonObject
                {
                    ["name"] = rt.Plural + "/status",
                    ["singularName"] = "",
                    ["namespaced"] = rt.Namespaced,
                    ["kind"] = rt.Kind,
                    ["verbs"] = Strings(["get", "patch", "update"]),
                });
            if (rt.HasScale)
                resources.Add(new JsonObject
                {
                    ["name"] = rt.Plural + "/scale",
                    ["singularName"] = "",
                    ["namespaced"] = rt.Namespaced,
                    ["group"] = "autoscaling",
                    ["version"] = "v1",
                    ["kind"] = "Scale",
                    ["verbs"] = Strings(["get", "patch", "update"]),
                });
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }

    /// <summary>The aggregated document for /api (core) or /apis (the named groups).</summary>
    public static JsonObject Aggregated(bool core, string version)
    {
        var items = new JsonArray();
        foreach (var group in core ? [""] : Catalog.Groups)
        {
            var resources = new JsonArray();
            foreach (var rt in Catalog.In(group, "v1"))
            {
                var r = new JsonObject
                {
                    ["resource"] = rt.Plural,
                    ["responseKind"] = new JsonObject { ["group"] = rt.Group, ["version"] = rt.Version, ["kind"] = rt.Kind },
                    ["scope"] = rt.Namespaced ? "Namespaced" : "Cluster",
                    ["singularResource"] = rt.Singular,
                    ["verbs"] = Strings(rt.Verbs),
                };
                if (rt.ShortNames.Length > 0) r["shortNames"] = Strings(rt.ShortNames);
                if (rt.Categories.Length > 0) r["categories"] = Strings(rt.Categories);
                var subresources = new JsonArray();
                if (rt.HasStatus)
                    subresources.Add(new JsonObject
                    {
                        ["subresource"] = "status",
                        ["responseKind"] = new JsonObject { ["group"] = rt.Group, ["version"] = rt.Version, ["kind"] = rt.Kind },
                        ["verbs"] = Strings(["get", "patch", "update"]),
                    });
                if (rt.HasScale)
                    subresources.Add(new JsonObject
                    {
                        ["subresource"] = "scale",
                        ["responseKind"] = new JsonObject { ["group"] = "autoscaling", ["version"] = "v1", ["kind"] = "Scale" },
                        ["verbs"] = Strings(["get", "patch", "update"]),
                    });
                if (subresources.Count > 0) r["subresources"] = subresources;
                resources.Add(r);
            }
            var metadata = new JsonObject { ["creationTimestamp"] = null };
            if (group.Length > 0) metadata["name"] = group;
            items.Add(new JsonObject
            {
                ["metadata"] = metadata,
                ["versions"] = new JsonArray(new JsonObject { ["version"] = "v1", ["resources"] = resources, ["freshness"] = "Current" }),
            });
        }
        return new JsonObject
        {
            ["kind"] = "APIGroupDiscoveryList",
            ["apiVersion"] = $"apidiscovery.k8s.io/{version}",
            ["metadata"] = new JsonObject(),
            ["items"] = items,
        };
    }

    public static JsonObject RootPaths()
    {
        var paths = new List<string> { "/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version" };
        foreach (var g in Catalog.Groups) { paths.Add($"/apis/{g}"); paths.Add($"/apis/{g}/v1"); }
        paths.Sort(StringComparer.Ordinal);
        return new JsonObject { ["paths"] = Strings(paths) };
    }
}
