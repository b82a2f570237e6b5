using System.Text;

namespace KonvoyLb.Engine.Config.Yaml;

/// <summary>
/// The text of a literal block scalar (Konvoy's <c>values: |</c>) as a document of its own: its
/// lines un-indented and joined with "\n". Offsets and edits in that inner text map back to the
/// outer file, so an edit of the inner YAML touches only the outer lines it changes; every other
/// line of the block, blank lines and comments included, keeps its bytes.
/// </summary>
public sealed class BlockScalarView
{
    readonly List<int> _lineStarts = new();   // outer offset of each inner line (its indentation included)
    readonly List<int> _innerStarts = new();  // inner offset of each inner line
    public string Inner { get; }
    public int Indent { get; }
    public string IndentString { get; }
    public string Eol { get; }
    /// <summary>Outer offset just after the last content line (trailing blank lines excluded).</summary>
    public int ContentEnd { get; }
    /// <summary>1-based outer line number of the first inner line.</summary>
    public int FirstLine { get; }

    public BlockScalarView(string outer, YScalar scalar, int parentIndent, int defaultStep, string eol)
    {
        if (!scalar.IsBlock) throw new ArgumentException("not a block scalar", nameof(scalar));
        Eol = eol;
        int headerEnd = outer.IndexOf('\n', scalar.Start);
        int pos = headerEnd < 0 ? outer.Length : headerEnd + 1;
        FirstLine = scalar.Line + 1;

        string header = outer[scalar.Start..(headerEnd < 0 ? outer.Length : headerEnd)];
        int explicitIndent = header.Skip(1).TakeWhile(c => c != ' ' && c != '#').FirstOrDefault(char.IsAsciiDigit) is var d and not '\0' ? d - '0' : 0;

        // Collect content lines: blank ones, or indented at least as far as the block's indentation.
        var lines = new List<(int Start, int End, int NextStart)>();
        int? indent = explicitIndent > 0 ? parentIndent + explicitIndent : null;
        while (pos < outer.Length)
        {
            int nl = outer.IndexOf('\n', pos);
            int next = nl < 0 ? outer.Length : nl + 1;
            int end = nl < 0 ? outer.Length : (nl > pos && outer[nl - 1] == '\r' ? nl - 1 : nl);
            int spaces = 0;
            while (pos + spaces < end && outer[pos + spaces] == ' ') spaces++;
            bool blank = pos + spaces == end;
            if (!blank)
            {
                indent ??= spaces;
                if (spaces < indent || spaces <= parentIndent) break;
            }
            lines.Add((pos, end, next));
            pos = next;
        }
        while (lines.Count > 0 && IsBlank(outer, lines[^1].Start, lines[^1].End))
            lines.RemoveAt(lines.Count - 1);

        Indent = indent ?? parentIndent + defaultStep;
        IndentString = new string(' ', Indent);
        var sb = new StringBuilder();
        foreach (var (start, end, next) in lines)
        {
            _lineStarts.Add(start);
            _innerStarts.Add(sb.Length);
            int skip = Math.Min(Indent, end - start);
            sb.Append(outer, start + skip, end - start - skip);
            if (next > end) sb.Append('\n');
        }
        Inner = sb.ToString();
        ContentEnd = lines.Count > 0 ? lines[^1].NextStart : (headerEnd < 0 ? outer.Length : headerEnd + 1);
    }

    static bool IsBlank(string s, int start, int end)
    {
        for (int i = start; i < end; i++) if (s[i] != ' ' && s[i] != '\t') return false;
        return true;
    }

    /// <summary>Outer offset of an inner offset.</summary>
    public int ToOuter(int inner)
    {
        if (inner >= Inner.Length) return ContentEnd;
        int line = LineOf(inner);
        int col = inner - _innerStarts[line];
        return col == 0 ? _lineStarts[line] : _lineStarts[line] + Indent + col;
    }

    int LineOf(int inner)
    {
        int i = _innerStarts.BinarySearch(inner);
        return i >= 0 ? i : ~i - 1;
    }

    /// <summary>An inner edit as an outer one: inserted lines get the block's indentation and the file's line breaks.</summary>
    public TextEdit ToOuter(TextEdit e)
    {
        bool atLineStart = e.Start >= Inner.Length ? Inner.Length == 0 || Inner[^1] == '\n' : e.Start == _innerStarts[LineOf(e.Start)];
        var segments = e.Text.Split('\n');
        var sb = new StringBuilder();
        for (int i = 0; i < segments.Length; i++)
        {
            if (i > 0) sb.Append(Eol);
            if (segments[i].Length > 0 && (i > 0 || atLineStart)) sb.Append(IndentString);
            sb.Append(segments[i]);
        }
        return new(ToOuter(e.Start), ToOuter(e.End), sb.ToString());
    }

    /// <summary>Outer 1-based line and column of an inner 1-based line and column.</summary>
    public (int Line, int Column) ToOuterPosition(int line, int column) => (FirstLine + line - 1, column + Indent);
}
