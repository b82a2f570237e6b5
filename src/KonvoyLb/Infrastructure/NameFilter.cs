using System.Management.Automation;

namespace KonvoyLb.Infrastructure;

/// <summary>Get-* filtering like Get-Item: wildcards match silently, a literal name that matches nothing is an error.</summary>
static class NameFilter
{
    public static IEnumerable<(T Item, string Key)> Select<T>(string[]? patterns, IEnumerable<T> items, Func<T, string> key, Action<string> notFound)
    {
        var list = items.ToList();
        if (patterns is null || patterns.Length == 0)
        {
            foreach (var item in list) yield return (item, key(item));
            yield break;
        }
        var seen = new HashSet<int>();
        foreach (var pattern in patterns)
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            bool any = false;
            for (int i = 0; i < list.Count; i++)
            {
                if (!wildcard.IsMatch(key(list[i]))) continue;
                any = true;
                if (seen.Add(i)) yield return (list[i], key(list[i]));
            }
            if (!any && !WildcardPattern.ContainsWildcardCharacters(pattern)) notFound(pattern);
        }
    }
}
