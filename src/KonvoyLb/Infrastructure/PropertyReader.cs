using System.Collections;
using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;

namespace KonvoyLb.Infrastructure;

/// <summary>
/// Reads structured parameter values that users give as hashtables and that the pipeline gives as
/// objects (from Get-LbAddressPool, Get-LbBgpPeer): the same property names work for both.
/// </summary>
static class PropertyReader
{
    static object? Get(object item, string name)
    {
        object? value = null;
        if (item is PSObject pso && pso.BaseObject is IDictionary pd) item = pd;
        if (item is IDictionary d)
        {
            foreach (DictionaryEntry e in d)
                if (string.Equals(e.Key?.ToString(), name, StringComparison.OrdinalIgnoreCase)) value = e.Value;
        }
        else value = PSObject.AsPSObject(item).Properties[name]?.Value;
        return value is PSObject p ? p.BaseObject : value;
    }

    static T? Convert<T>(object item, string name) where T : struct
    {
        var value = Get(item, name);
        if (value is null) return null;
        try { return LanguagePrimitives.ConvertTo<T>(value); }
        catch (PSInvalidCastException e)
        {
            throw new LbException(ErrorId.InvalidArgument, $"{name} must be a {typeof(T).Name}, not '{value}'.", value, inner: e);
        }
    }

    static List<string>? Strings(object item, string name) => Get(item, name) switch
    {
        null => null,
        string s => new List<string> { s },
        IEnumerable e => e.Cast<object>().Select(o => (o is PSObject p ? p.BaseObject : o).ToString()!).ToList(),
        var other => new List<string> { other.ToString()! },
    };

    static void RejectUnknown(object item, string what, params string[] known)
    {
        var names = item is IDictionary d ? d.Keys.Cast<object>().Select(k => k.ToString()!)
            : item is PSObject { BaseObject: IDictionary pd } ? pd.Keys.Cast<object>().Select(k => k.ToString()!)
            : Enumerable.Empty<string>();
        foreach (var n in names)
            if (!known.Contains(n, StringComparer.OrdinalIgnoreCase))
                throw new LbException(ErrorId.InvalidArgument, $"unknown key '{n}' in {what}.", item, fix: $"Use: {string.Join(", ", known)}.");
    }

    public static List<BgpAdvertisement> Advertisements(IEnumerable<object> items) => items.Select(item =>
    {
        RejectUnknown(item, "a BGP advertisement", "AggregationLength", "AggregationLengthV6", "LocalPref", "Communities");
        return new BgpAdvertisement
        {
            AggregationLength = Convert<int>(item, "AggregationLength"),
            AggregationLengthV6 = Convert<int>(item, "AggregationLengthV6"),
            LocalPref = Convert<uint>(item, "LocalPref"),
            Communities = Strings(item, "Communities"),
        };
    }).ToList();

    public static List<NodeSelector> NodeSelectors(IEnumerable<object> items) => items.Select(item =>
    {
        RejectUnknown(item, "a node selector", "MatchLabels", "MatchExpressions");
        var labels = Get(item, "MatchLabels") switch
        {
            null => null,
            IDictionary d => d.Cast<DictionaryEntry>().Select(e => new KeyValuePair<string, string>(e.Key.ToString()!, e.Value?.ToString() ?? "")).ToList(),
            IEnumerable<KeyValuePair<string, string>> pairs => pairs.ToList(),
            var other => throw new LbException(ErrorId.InvalidArgument, $"MatchLabels must be a hashtable of label names to values, not '{other}'.", other),
        };
        var expressions = Get(item, "MatchExpressions") is { } exprs
            ? (LanguagePrimitives.GetEnumerable(exprs)?.Cast<object>() ?? new[] { exprs }).Select(e =>
            {
                RejectUnknown(e, "a match expression", "Key", "Operator", "Values");
                return new MatchExpression(Get(e, "Key")?.ToString() ?? "", Get(e, "Operator")?.ToString() ?? "", Strings(e, "Values"));
            }).ToList()
            : null;
        return new NodeSelector { MatchLabels = labels, MatchExpressions = expressions };
    }).ToList();
}
