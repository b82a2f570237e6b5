using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace KonvoyLb.Engine.Config.Yaml;

/// <summary>
/// A YAML node that remembers where it stands in the text it was parsed from. Start and End are
/// character offsets (End exclusive, and for block collections the end of their last child), Line
/// and Column are 1-based. This is what makes surgical edits possible: YamlDotNet's own
/// representation model forgets comments and layout, so we keep positions instead.
/// </summary>
public abstract class YNode
{
    public int Start { get; internal set; }
    public int End { get; internal set; }
    public int Line { get; internal set; }
    public int Column { get; internal set; }
    /// <summary>Flow style (<c>[a, b]</c>, <c>{a: b}</c>) for collections, any non-block style for scalars.</summary>
    public bool IsFlow { get; internal set; }
}

public sealed class YScalar : YNode
{
    public string Value { get; internal set; } = "";
    public ScalarStyle Style { get; internal set; }
    public bool IsPlain => Style == ScalarStyle.Plain;
    public bool IsBlock => Style is ScalarStyle.Literal or ScalarStyle.Folded;
    /// <summary>A plain scalar that YAML reads as null (empty, ~, null).</summary>
    public bool IsNull => IsPlain && Value is "" or "~" or "null" or "Null" or "NULL";
}

public sealed class YMap : YNode
{
    public List<KeyValuePair<YScalar, YNode>> Entries { get; } = new();

    public YNode? this[string key] => Find(key)?.Value;

    public KeyValuePair<YScalar, YNode>? Find(string key)
    {
        foreach (var e in Entries)
            if (e.Key.Value == key) return e;
        return null;
    }

    public int IndexOf(string key) => Entries.FindIndex(e => e.Key.Value == key);
}

public sealed class YSeq : YNode
{
    public List<YNode> Items { get; } = new();
}

/// <summary>One document of a (possibly multi-document) YAML stream.</summary>
public sealed record YDocument(YNode? Root, int Start, int End);

/// <summary>Parses YAML text into position-carrying nodes.</summary>
public static class YamlTree
{
    public static List<YDocument> ParseStream(string text)
    {
        var parser = new Parser(new StringReader(text));
        try { return ReadStream(parser, text); }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner throws InvalidOperationException instead of a YamlException on some
            // malformed input, e.g. an unclosed "[a" followed by a "key: value" line. Report it as a
            // syntax error at the last event the parser produced (there: the unclosed bracket).
            var at = parser.Current?.Start ?? Mark.Empty;
            throw new YamlException(at, at, "malformed YAML here (is a '[' or '{' not closed?)", e);
        }
    }

    static List<YDocument> ReadStream(IParser parser, string text)
    {
        var docs = new List<YDocument>();
        parser.Consume<StreamStart>();
        while (parser.TryConsume<DocumentStart>(out var ds))
        {
            YNode? root = null;
            if (!parser.Accept<DocumentEnd>(out _))
                root = ReadNode(parser, text);
            var de = parser.Consume<DocumentEnd>();
            docs.Add(new YDocument(root, (int)ds.Start.Index, (int)de.End.Index));
        }
        parser.Consume<StreamEnd>();
        return docs;
    }

    /// <summary>Parses text that must hold at most one document; returns its root (null when empty).</summary>
    public static YNode? ParseSingle(string text)
    {
        var docs = ParseStream(text);
        if (docs.Count > 1)
        {
            var second = docs[1];
            var (line, col) = LineColumn(text, second.Start);
            throw new YamlException(new Mark(second.Start, line, col), new Mark(second.Start, line, col),
                "expected one YAML document, found several");
        }
        return docs.Count == 0 ? null : docs[0].Root;
    }

    static YNode ReadNode(IParser parser, string text)
    {
        var ev = parser.Current ?? throw new InvalidOperationException("parser ended early");
        switch (ev)
        {
            case AnchorAlias alias:
                throw new YamlException(alias.Start, alias.End,
                    $"aliases (*{alias.Value}) are not supported here: write the value out in full");
            case Scalar s:
                parser.MoveNext();
                return new YScalar
                {
                    Value = s.Value, Style = s.Style, IsFlow = !(s.Style is ScalarStyle.Literal or ScalarStyle.Folded),
                    Start = (int)s.Start.Index, End = (int)s.End.Index, Line = (int)s.Start.Line, Column = (int)s.Start.Column,
                };
            case SequenceStart ss:
            {
                parser.MoveNext();
                var seq = new YSeq
                {
                    IsFlow = ss.Style == SequenceStyle.Flow,
                    Start = (int)ss.Start.Index, Line = (int)ss.Start.Line, Column = (int)ss.Start.Column,
                };
                while (!parser.Accept<SequenceEnd>(out _))
                    seq.Items.Add(ReadNode(parser, text));
                var end = parser.Consume<SequenceEnd>();
                seq.End = seq.IsFlow ? FlowEnd(text, (int)end.Start.Index, ']')
                    : seq.Items.Count > 0 ? seq.Items[^1].End : seq.Start;
                return seq;
            }
            case MappingStart ms:
            {
                parser.MoveNext();
                var map = new YMap
                {
                    IsFlow = ms.Style == MappingStyle.Flow,
                    Start = (int)ms.Start.Index, Line = (int)ms.Start.Line, Column = (int)ms.Start.Column,
                };
                while (!parser.Accept<MappingEnd>(out _))
                {
                    var keyNode = ReadNode(parser, text);
                    if (keyNode is not YScalar key)
                        throw new YamlException(new Mark(keyNode.Start, keyNode.Line, keyNode.Column),
                            new Mark(keyNode.End, keyNode.Line, keyNode.Column), "mapping keys must be plain strings");
                    var value = ReadNode(parser, text);
                    map.Entries.Add(new(key, value));
                }
                var end = parser.Consume<MappingEnd>();
                map.End = map.IsFlow ? FlowEnd(text, (int)end.Start.Index, '}')
                    : map.Entries.Count > 0 ? map.Entries[^1].Value.End : map.Start;
                return map;
            }
            default:
                throw new YamlException(ev.Start, ev.End, $"unexpected {ev.GetType().Name}");
        }
    }

    // The end event of a flow collection marks the closing bracket; the node ends after it.
    static int FlowEnd(string text, int index, char close)
    {
        while (index < text.Length && text[index] != close) index++;
        return Math.Min(index + 1, text.Length);
    }

    /// <summary>1-based line and column of a character offset.</summary>
    public static (int Line, int Column) LineColumn(string text, int offset)
    {
        int line = 1, lineStart = 0;
        for (int i = 0; i < offset && i < text.Length; i++)
            if (text[i] == '\n') { line++; lineStart = i + 1; }
        return (line, offset - lineStart + 1);
    }
}
