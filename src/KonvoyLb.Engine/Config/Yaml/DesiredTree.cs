using System.Globalization;
using System.Text;

namespace KonvoyLb.Engine.Config.Yaml;

/// <summary>
/// The YAML we want, without positions: what a model serialises to and what the reconciler makes
/// the text say. Scalars carry their kind so that a string that looks like a number gets quoted.
/// </summary>
public abstract record DNode
{
    public static DScalar Str(string s) => new(s, ScalarKind.String);
    public static DScalar Int(long n) => new(n.ToString(CultureInfo.InvariantCulture), ScalarKind.Number);
    public static DScalar Bool(bool b) => new(b ? "true" : "false", ScalarKind.Bool);

    /// <summary>Structural equality with a parsed node: the same data, whatever the layout.</summary>
    public abstract bool Matches(YNode node);

    /// <summary>A compact, canonical one-line form (flow YAML); used for equality checks and messages.</summary>
    public abstract string ToFlow();
}

public enum ScalarKind { String, Number, Bool }

public sealed record DScalar(string Text, ScalarKind Kind) : DNode
{
    public override bool Matches(YNode node) => node is YScalar s && ScalarText.SameValue(s, this);
    public override string ToFlow() => ScalarText.Render(this, flow: true);
}

public sealed record DSeq(IReadOnlyList<DNode> Items) : DNode
{
    public override bool Matches(YNode node) =>
        node is YSeq s && s.Items.Count == Items.Count && Items.Select((d, i) => d.Matches(s.Items[i])).All(x => x);
    public override string ToFlow() => "[" + string.Join(", ", Items.Select(i => i.ToFlow())) + "]";
    public bool Equals(DSeq? other) => other is not null && Items.SequenceEqual(other.Items);
    public override int GetHashCode() => Items.Count;
}

public sealed record DMap(IReadOnlyList<KeyValuePair<string, DNode>> Entries) : DNode
{
    public DNode? this[string key] => Entries.FirstOrDefault(e => e.Key == key).Value;

    public override bool Matches(YNode node) =>
        node is YMap m && m.Entries.Count == Entries.Count
        && Entries.All(e => m[e.Key] is { } v && e.Value.Matches(v));
    public override string ToFlow() =>
        "{" + string.Join(", ", Entries.Select(e => ScalarText.Render(DNode.Str(e.Key), flow: true) + ": " + e.Value.ToFlow())) + "}";
    public bool Equals(DMap? other) => other is not null && Entries.SequenceEqual(other.Entries);
    public override int GetHashCode() => Entries.Count;
}

/// <summary>Builds a <see cref="DMap"/> in order, skipping absent (null) values.</summary>
public sealed class DMapBuilder
{
    readonly List<KeyValuePair<string, DNode>> _entries = new();
    public DMapBuilder Add(string key, DNode? value)
    {
        if (value is not null) _entries.Add(new(key, value));
        return this;
    }
    public DMapBuilder Add(string key, string? value) => Add(key, value is null ? null : DNode.Str(value));
    public DMapBuilder Add(string key, long? value) => Add(key, value is null ? null : DNode.Int(value.Value));
    public DMapBuilder Add(string key, bool? value) => Add(key, value is null ? null : DNode.Bool(value.Value));
    public DMap Build() => new(_entries);
}

/// <summary>How scalars read and how they are written back.</summary>
public static class ScalarText
{
    static readonly HashSet<string> BoolWords = new(StringComparer.Ordinal)
    {
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    };
    static readonly HashSet<string> NullWords = new(StringComparer.Ordinal) { "", "~", "null", "Null", "NULL" };

    /// <summary>YAML 1.1 boolean (as Go's yaml.v2, which MetalLB uses, reads it), or null.</summary>
    public static bool? ParseBool(string s) => s switch
    {
        "y" or "Y" or "yes" or "Yes" or "YES" or "true" or "True" or "TRUE" or "on" or "On" or "ON" => true,
        "n" or "N" or "no" or "No" or "NO" or "false" or "False" or "FALSE" or "off" or "Off" or "OFF" => false,
        _ => null,
    };

    public static bool SameValue(YScalar have, DScalar want)
    {
        if (have.IsBlock) return false;
        switch (want.Kind)
        {
            case ScalarKind.Bool:
                return have.IsPlain && ParseBool(have.Value)?.ToString() == ParseBool(want.Text)?.ToString();
            case ScalarKind.Number:
                return have.IsPlain && decimal.TryParse(have.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var a)
                    && decimal.TryParse(want.Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) && a == b;
            default:
                // A plain scalar that YAML would read as something else than a string is not this string.
                return have.Value == want.Text && (!have.IsPlain || !LooksLikeNonString(have.Value));
        }
    }

    /// <summary>
    /// Plain text that Go's yaml.v2 (MetalLB's reader) would not take as a string. It has no base-60
    /// numbers, so a community like 65535:65281 stays plain, as MetalLB's own examples write it.
    /// </summary>
    public static bool LooksLikeNonString(string s) =>
        NullWords.Contains(s) || BoolWords.Contains(s)
        || double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
        || s.StartsWith("0x", StringComparison.Ordinal) || s.StartsWith("0b", StringComparison.Ordinal);

    static bool NeedsQuotes(string s, bool flow)
    {
        if (s.Length == 0 || LooksLikeNonString(s)) return true;
        if (char.IsWhiteSpace(s[0]) || char.IsWhiteSpace(s[^1])) return true;
        if ("-?:,[]{}#&*!|>'\"%@`".Contains(s[0]) && !(s[0] == '-' && s.Length > 1 && s[1] != ' ')) return true;
        if (s.Contains(": ") || s.Contains(" #") || s.EndsWith(':') || s.Contains('\n') || s.Contains('\t')) return true;
        if (flow && s.IndexOfAny(new[] { ',', '[', ']', '{', '}', ':' }) >= 0) return true;
        return s.Any(c => char.IsControl(c));
    }

    /// <summary>Writes a scalar in the plainest style that reads back as the same value.</summary>
    public static string Render(DScalar d, bool flow) =>
        d.Kind != ScalarKind.String || !NeedsQuotes(d.Text, flow) ? d.Text : DoubleQuoted(d.Text);

    /// <summary>Writes a scalar in the style of the one it replaces (quoted stays quoted).</summary>
    public static string RenderLike(YScalar old, DScalar d, bool flow)
    {
        if (d.Kind == ScalarKind.String)
        {
            if (old.Style == YamlDotNet.Core.ScalarStyle.DoubleQuoted) return DoubleQuoted(d.Text);
            if (old.Style == YamlDotNet.Core.ScalarStyle.SingleQuoted && !d.Text.Contains('\n'))
                return "'" + d.Text.Replace("'", "''") + "'";
        }
        return Render(d, flow);
    }

    public static string DoubleQuoted(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
