using System.Text;
using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>
/// A label selector in the API's string form: <c>a=b</c>, <c>a==b</c>, <c>a!=b</c>, <c>a in (x,y)</c>,
/// <c>a notin (x,y)</c>, <c>a</c>, <c>!a</c>, <c>a&gt;1</c>, <c>a&lt;1</c>, comma-separated (all must hold).
/// </summary>
internal sealed class LabelSelector
{
    enum Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist, Greater, Less }

    sealed record Requirement(string Key, Op Op, string[] Values);

    readonly List<Requirement> _requirements = [];

    public static readonly LabelSelector Everything = new();

    public bool IsEmpty => _requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var r in _requirements)
        {
            var has = labels.TryGetValue(r.Key, out var value);
            var ok = r.Op switch
            {
                Op.Exists => has,
                Op.DoesNotExist => !has,
                Op.Equals => has && value == r.Values[0],
                Op.NotEquals => !has || value != r.Values[0],
                Op.In => has && r.Values.Contains(value),
                Op.NotIn => !has || !r.Values.Contains(value),
                Op.Greater => has && long.TryParse(value, out var g) && g > long.Parse(r.Values[0]),
                Op.Less => has && long.TryParse(value, out var l) && l < long.Parse(r.Values[0]),
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>Parses a selector; throws a 400 BadRequest <see cref="KubeApiException"/> on bad syntax.</summary>
    public static LabelSelector Parse(string? text)
    {
        var selector = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        var tokens = Tokenize(text);
        var i = 0;
        string Fail(string why) => throw Status.BadRequest($"unable to parse requirement: {why}");
        string Next() => i < tokens.Count ? tokens[i++] : "";
        string Peek() => i < tokens.Count ? tokens[i] : "";

        while (true)
        {
            var first = Next();
            if (first == "!")
            {
                var key = Next();
                ValidateKey(key);
                selector._requirements.Add(new(key, Op.DoesNotExist, []));
            }
            else
            {
                ValidateKey(first);
                var op = Peek();
                switch (op)
                {
                    case "" or ",":
                        selector._requirements.Add(new(first, Op.Exists, []));
                        break;
                    case "=" or "==" or "!=":
                        i++;
                        var value = Peek() is "," or "" ? "" : Next();
                        ValidateValue(value);
                        selector._requirements.Add(new(first, op == "!=" ? Op.NotEquals : Op.Equals, [value]));
                        break;
                    case ">" or "<":
                        i++;
                        var number = Next();
                        if (!long.TryParse(number, out _)) Fail($"for 'Gt', 'Lt' operators, the value must be an integer");
                        selector._requirements.Add(new(first, op == ">" ? Op.Greater : Op.Less, [number]));
                        break;
                    case "in" or "notin":
                        i++;
                        if (Next() != "(") Fail($"found '{tokens.ElementAtOrDefault(i - 1)}', expected: '('");
                        var values = new List<string>();
                        while (true)
                        {
                            var t = Next();
                            if (t == ")") break;
                            if (t == ",") { values.Add(""); continue; }
                            if (t == "") Fail("found '', expected: ')'");
                            ValidateValue(t);
                            values.Add(t);
                            var after = Next();
                            if (after == ")") break;
                            if (after != ",") Fail($"found '{after}', expected: ',' or ')'");
                        }
                        if (values.Count == 0) Fail("for 'in', 'notin' operators, values set can't be empty");
                        selector._requirements.Add(new(first, op == "in" ? Op.In : Op.NotIn, values.ToArray()));
                        break;
                    default:
                        Fail($"found '{op}', expected: in, notin, =, ==, !=, gt, lt");
                        break;
                }
            }
            var sep = Next();
            if (sep == "") break;
            if (sep != ",") Fail($"found '{sep}', expected: ',' or 'end of string'");
        }
        return selector;
    }

    static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c is '(' or ')' or ',') { tokens.Add(c.ToString()); i++; continue; }
            if (c == '!' && i + 1 < text.Length && text[i + 1] == '=') { tokens.Add("!="); i += 2; continue; }
            if (c == '!') { tokens.Add("!"); i++; continue; }
            if (c == '=' && i + 1 < text.Length && text[i + 1] == '=') { tokens.Add("=="); i += 2; continue; }
            if (c is '=' or '<' or '>') { tokens.Add(c.ToString()); i++; continue; }
            var start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not ('(' or ')' or ',' or '!' or '=' or '<' or '>')) i++;
            tokens.Add(text[start..i]);
        }
        return tokens;
    }

    static void ValidateKey(string key)
    {
        if (key.Length == 0 || key is "in" or "notin" or "(" or ")" or "," or "=" or "==" or "!=")
            throw Status.BadRequest($"unable to parse requirement: found '{key}', expected: identifier");
        var name = key;
        var slash = key.IndexOf('/');
        if (slash >= 0)
        {
            var prefix = key[..slash];
            name = key[(slash + 1)..];
            if (prefix.Length == 0 || prefix.Length > 253 || !prefix.All(ch => char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch is '-' or '.'))
                throw Status.BadRequest($"unable to parse requirement: invalid label key \"{key}\": prefix part must be a DNS-1123 subdomain");
        }
        if (!IsLabelValue(name) || name.Length == 0)
            throw Status.BadRequest($"unable to parse requirement: invalid label key \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
    }

    static void ValidateValue(string value)
    {
        if (!IsLabelValue(value))
            throw Status.BadRequest($"unable to parse requirement: invalid label value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
    }

    static bool IsLabelValue(string v) =>
        v.Length == 0 || (v.Length <= 63 && char.IsAsciiLetterOrDigit(v[0]) && char.IsAsciiLetterOrDigit(v[^1]) &&
                          v.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.'));
}

/// <summary>A field selector: <c>f=v</c>, <c>f==v</c>, <c>f!=v</c>, comma-separated, on the fields the resource supports.</summary>
internal sealed class FieldSelector
{
    sealed record Term(string Field, bool Equal, string Value);

    readonly List<Term> _terms = [];

    public static readonly FieldSelector Everything = new();

    public bool IsEmpty => _terms.Count == 0;

    /// <summary>The name a <c>metadata.name=x</c> term pins, if any (for single-object watches).</summary>
    public string? PinnedName => _terms.FirstOrDefault(t => t.Field == "metadata.name" && t.Equal)?.Value;

    public bool Matches(JsonObject obj)
    {
        foreach (var t in _terms)
        {
            var actual = ValueOf(obj, t.Field);
            if ((actual == t.Value) != t.Equal) return false;
        }
        return true;
    }

    static readonly HashSet<string> BooleanFields = ["spec.hostNetwork", "spec.unschedulable"];

    static string ValueOf(JsonObject obj, string field)
    {
        if (field == "source") return obj.Str("source.component") ?? "";
        return obj.Str(field) ?? (BooleanFields.Contains(field) ? "false" : "");
    }

    /// <summary>Parses a selector for a resource; unknown fields give the real server's 400.</summary>
    public static FieldSelector Parse(string? text, ResourceType type)
    {
        var selector = new FieldSelector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        foreach (var raw in SplitUnescaped(text, ','))
        {
            var term = raw.Trim();
            if (term.Length == 0) continue;
            string field, value;
            bool equal;
            int at;
            if ((at = IndexUnescaped(term, "!=")) >= 0) { field = term[..at]; value = term[(at + 2)..]; equal = false; }
            else if ((at = IndexUnescaped(term, "==")) >= 0) { field = term[..at]; value = term[(at + 2)..]; equal = true; }
            else if ((at = IndexUnescaped(term, "=")) >= 0) { field = term[..at]; value = term[(at + 1)..]; equal = true; }
            else throw Status.BadRequest($"invalid selector: '{text}'; can't understand '{term}'");
            field = field.Trim();
            if (field != "metadata.name" && field != "metadata.namespace" && !type.FieldSelectors.Contains(field))
                throw Status.BadRequest($"field label not supported: {field}");
            selector._terms.Add(new(field, equal, Unescape(value.Trim())));
        }
        return selector;
    }

    static IEnumerable<string> SplitUnescaped(string s, char sep)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length) { sb.Append(s[i]).Append(s[i + 1]); i++; continue; }
            if (s[i] == sep) { yield return sb.ToString(); sb.Clear(); continue; }
            sb.Append(s[i]);
        }
        yield return sb.ToString();
    }

    static int IndexUnescaped(string s, string op)
    {
        for (var i = 0; i + op.Length <= s.Length; i++)
        {
            if (s[i] == '\\') { i++; continue; }
            if (string.CompareOrdinal(s, i, op, 0, op.Length) == 0) return i;
        }
        return -1;
    }

    static string Unescape(string s)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length) { sb.Append(s[i + 1]); i++; continue; }
            sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
