using System.Text;

namespace KonvoyLb.Engine.Config.Yaml;

/// <summary>A replacement of the characters [Start, End) by Text.</summary>
public readonly record struct TextEdit(int Start, int End, string Text);

/// <summary>The indentation habits of a document, learned from its own nodes so new entries match.</summary>
public sealed record IndentStyle(int MapIndent, int SeqIndent, int ItemOffset)
{
    public static readonly IndentStyle Default = new(2, 0, 2);

    /// <summary>Learns the habits from the first examples of each in the tree; keeps defaults otherwise.</summary>
    public static IndentStyle Detect(YNode? root, IndentStyle fallback)
    {
        int? map = null, seq = null, item = null;
        void Walk(YNode n)
        {
            if (n.IsFlow) return;
            if (n is YMap m)
                foreach (var (k, v) in m.Entries)
                {
                    if (v is YMap vm && !vm.IsFlow && vm.Entries.Count > 0 && vm.Line > k.Line) map ??= vm.Column - k.Column;
                    if (v is YSeq vs && !vs.IsFlow && vs.Items.Count > 0 && vs.Line > k.Line) seq ??= vs.Column - k.Column;
                    Walk(v);
                }
            else if (n is YSeq s)
                foreach (var i in s.Items)
                {
                    if (!i.IsFlow && i.Line == s.Items[0].Line && i.Column > s.Column) item ??= i.Column - s.Column;
                    Walk(i);
                }
        }
        if (root is not null) Walk(root);
        return new(map is > 0 ? map.Value : fallback.MapIndent, seq is >= 0 ? seq.Value : fallback.SeqIndent,
            item is > 1 ? item.Value : fallback.ItemOffset);
    }
}

/// <summary>
/// Turns "the YAML should say this" into the smallest text edits that make it so. Untouched nodes keep
/// every byte; new nodes are rendered in the document's own indentation and line-break style; flow
/// collections stay flow. Edits are collected and applied at the end, so positions never shift while
/// planning.
/// </summary>
public sealed class YamlEditor
{
    readonly string _text;
    readonly List<TextEdit> _edits = new();
    public IndentStyle Style { get; }
    public string Eol { get; }

    public YamlEditor(string text, IndentStyle style, string eol)
    {
        _text = text;
        Style = style;
        Eol = eol;
    }

    public IReadOnlyList<TextEdit> Edits => _edits;

    public static string DetectEol(string text)
    {
        int i = text.IndexOf('\n');
        return i > 0 && text[i - 1] == '\r' ? "\r\n" : "\n";
    }

    public void Add(TextEdit edit) => _edits.Add(edit);

    /// <summary>Applies non-overlapping edits given in any order. At one offset, insertions come before a
    /// removal that starts there, and insertions keep the order in which they were planned.</summary>
    public static string Apply(string text, IEnumerable<TextEdit> edits)
    {
        var sorted = edits.Select((e, i) => (e, i)).OrderBy(x => x.e.Start).ThenBy(x => x.e.End > x.e.Start).ThenBy(x => x.i).Select(x => x.e).ToList();
        var sb = new StringBuilder(text.Length + 256);
        int pos = 0;
        foreach (var e in sorted)
        {
            if (e.Start < pos)
                throw LbErrors.EditVerificationFailed($"two planned edits overlap at offset {e.Start}", null);
            sb.Append(text, pos, e.Start - pos).Append(e.Text);
            pos = e.End;
        }
        return sb.Append(text, pos, text.Length - pos).ToString();
    }

    public string Apply() => Apply(_text, _edits);

    // ---- reconciliation ------------------------------------------------------------------------

    /// <summary>Makes the node say <paramref name="want"/>; nothing happens when it already does.</summary>
    void Reconcile(YNode have, DNode want)
    {
        if (want.Matches(have)) return;
        switch (have, want)
        {
            case (YScalar s, DScalar d) when !s.IsBlock:
                _edits.Add(new(s.Start, s.End, ScalarText.RenderLike(s, d, flow: false)));
                return;
            case (YMap m, DMap d) when !m.IsFlow:
                ReconcileMap(m, d);
                return;
            case (YSeq s, DSeq d) when !s.IsFlow && d.Items.Count > 0:
                ReconcileSeq(s, d);
                return;
            case (YMap m, DMap d) when m.IsFlow && m.Entries.Count > 0 && d.Entries.Count > 0 && CanStayFlow(want)
                                        && m.Entries.All(e => e.Value is YScalar):
                ReconcileFlowMap(m, d);
                return;
            case (YMap or YSeq, DMap or DSeq) when have.IsFlow && CanStayFlow(want):
                _edits.Add(new(have.Start, have.End, want.ToFlow()));
                return;
            default:
                throw new CannotEditInPlace();
        }
    }

    /// <summary>
    /// A node that cannot become the wanted one by edits inside it (a scalar that must become a map, a
    /// list item that must become empty). The caller re-renders the enclosing value; it never leaves the editor.
    /// </summary>
    sealed class CannotEditInPlace : Exception;

    /// <summary>
    /// A flow map of scalars (<c>{peer-address: 10.1.0.1, password: x}</c>): only the pairs that change
    /// are touched, so the keys keep their order and the untouched pairs their bytes.
    /// </summary>
    void ReconcileFlowMap(YMap m, DMap want)
    {
        for (int i = 0; i < m.Entries.Count; i++)
        {
            var (key, value) = m.Entries[i];
            if (want[key.Value] is not { } wanted)
            {
                // Remove the pair with the comma that separates it from its neighbour.
                bool onlyLast = i == m.Entries.Count - 1;
                int start = onlyLast && i > 0 ? m.Entries[i - 1].Value.End : key.Start;
                int end = onlyLast ? value.End : m.Entries[i + 1].Key.Start;
                _edits.Add(new(start, end, ""));
            }
            else if (!wanted.Matches(value))
                _edits.Add(new(value.Start, value.End, ScalarText.RenderLike((YScalar)value, (DScalar)wanted, flow: true)));
        }
        var added = want.Entries.Where(e => m.Find(e.Key) is null)
            .Select(e => ", " + ScalarText.Render(DNode.Str(e.Key), flow: true) + ": " + e.Value.ToFlow());
        string tail = string.Concat(added);
        if (tail.Length > 0) _edits.Add(new(m.Entries[^1].Value.End, m.Entries[^1].Value.End, tail));
    }

    static bool CanStayFlow(DNode want) => want switch
    {
        DSeq s => s.Items.All(i => i is DScalar),
        DMap m => m.Entries.All(e => e.Value is DScalar),
        _ => true,
    };

    void ReconcileMap(YMap m, DMap want)
    {
        foreach (var (key, _) in m.Entries.ToList())
            if (want[key.Value] is null) RemoveEntry(m, key.Value);
        string? previous = null;
        foreach (var (key, value) in want.Entries)
        {
            var existing = m.Find(key);
            if (existing is null) InsertEntry(m, key, value, previous);
            else if (!value.Matches(existing.Value.Value)) SetEntryValue(m, existing.Value, value);
            previous = existing is null ? previous : key;
        }
    }

    /// <summary>Sets one key of a block map: reconciles the value in place when it can, else re-renders it.</summary>
    public void SetEntry(YMap m, string key, DNode value)
    {
        var existing = m.Find(key);
        if (existing is null) InsertEntry(m, key, value, m.Entries.Count > 0 ? m.Entries[^1].Key.Value : null);
        else if (!value.Matches(existing.Value.Value)) SetEntryValue(m, existing.Value, value);
    }

    void SetEntryValue(YMap m, KeyValuePair<YScalar, YNode> entry, DNode want)
    {
        var (key, have) = entry;
        bool sameShape = (have, want) switch
        {
            (YScalar s, DScalar) => !s.IsBlock,
            // A block map cannot become empty in place (a key with nothing under it reads as null): rewrite it as {}.
            (YMap hm, DMap dm) => hm.IsFlow ? CanStayFlow(want) : dm.Entries.Count > 0,
            (YSeq hs, DSeq ds) => hs.IsFlow ? CanStayFlow(want) || ds.Items.Count == 0 : ds.Items.Count > 0,
            _ => false,
        };
        if (sameShape)
        {
            if (have.IsFlow && want is DSeq { Items.Count: 0 } or DMap { Entries.Count: 0 })
            {
                _edits.Add(new(have.Start, have.End, want is DSeq ? "[]" : "{}"));
                return;
            }
            int planned = _edits.Count;
            try { Reconcile(have, want); return; }
            catch (CannotEditInPlace) { _edits.RemoveRange(planned, _edits.Count - planned); }
        }
        // Different shape (scalar <-> collection, block <-> empty): rewrite everything after the key.
        int colon = _text.IndexOf(':', key.End);
        int end = LineAfter(have.End);
        string rendered = RenderValueAfterKey(want, key.Column - 1);
        // A comment beside a one-line value ("pools: [] # none yet") stays on the key's line.
        if (have.Line == key.Line && TrailingComment(have.End) is { } comment)
        {
            int eol = rendered.IndexOf(Eol, StringComparison.Ordinal);
            rendered = eol < 0 ? rendered + " " + comment : rendered[..eol] + " " + comment + rendered[eol..];
        }
        _edits.Add(new(colon, end, rendered + Eol));
    }

    /// <summary>The "# ..." comment after offset on the same line, or null.</summary>
    string? TrailingComment(int offset)
    {
        int i = offset;
        while (i < _text.Length && _text[i] is ' ' or '\t') i++;
        if (i == offset || i >= _text.Length || _text[i] != '#') return null;
        int end = _text.IndexOf('\n', i);
        return _text[i..(end < 0 ? _text.Length : end)].TrimEnd('\r');
    }

    void RemoveEntry(YMap m, string key)
    {
        int index = m.IndexOf(key);
        var (k, v) = m.Entries[index];
        if (InlineAfterDash(k))
        {
            // "- name: a" → removing the first key of a list item pulls the next key up behind the dash.
            if (m.Entries.Count == 1) throw new CannotEditInPlace();
            var next = m.Entries[index + 1].Key;
            // Whole comment lines between the removed entry and the next key survive, moved above the item's line.
            int between = LineAfter(v.End), nextLine = LineStart(next.Start);
            if (between < nextLine) _edits.Add(new(LineStart(k.Start), LineStart(k.Start), _text[between..nextLine]));
            _edits.Add(new(k.Start, next.Start, ""));
            return;
        }
        _edits.Add(new(LineStart(k.Start), LineAfter(v.End), ""));
    }

    void InsertEntry(YMap m, string key, DNode value, string? afterKey)
    {
        string pad = new(' ', m.Column - 1);
        string entry = RenderEntry(key, value, m.Column - 1);
        if (afterKey is not null)
        {
            InsertLines(LineAfter(m.Find(afterKey)!.Value.Value.End), pad + entry);
            return;
        }
        var first = m.Entries[0].Key;
        if (InlineAfterDash(first))
            _edits.Add(new(first.Start, first.Start, entry + Eol + pad));
        else
            InsertLines(LineStart(first.Start), pad + entry);
    }

    void ReconcileSeq(YSeq s, DSeq want)
    {
        // Match old items to wanted ones by identity (name, peer address, or the value itself).
        var used = new bool[s.Items.Count];
        var match = new int[want.Items.Count];
        for (int j = 0; j < want.Items.Count; j++)
        {
            string id = Identity(want.Items[j]);
            match[j] = -1;
            for (int i = 0; i < s.Items.Count; i++)
                if (!used[i] && Identity(s.Items[i]) == id) { used[i] = true; match[j] = i; break; }
        }
        var order = match.Where(i => i >= 0).ToList();
        if (!order.SequenceEqual(order.Order()))
        {
            // A new order: the list is written anew in the document's style (its items are re-rendered).
            RenderSeqAnew(s, want);
            return;
        }
        int planned = _edits.Count;
        try { ReconcileSeqInOrder(s, want, used, match); }
        catch (CannotEditInPlace)
        {
            _edits.RemoveRange(planned, _edits.Count - planned);
            RenderSeqAnew(s, want);
        }
    }

    void RenderSeqAnew(YSeq s, DSeq want)
    {
        int start = LineStart(s.Items[0].Start), end = LineAfter(s.Items[^1].End);
        _edits.Add(new(start, end, string.Join(Eol, want.Items.Select(i => RenderItem(i, s.Column - 1))) + Eol));
    }

    void ReconcileSeqInOrder(YSeq s, DSeq want, bool[] used, int[] match)
    {
        for (int i = 0; i < s.Items.Count; i++)
            if (!used[i]) RemoveItem(s, i);
        int previous = -1;
        for (int j = 0; j < want.Items.Count; j++)
        {
            if (match[j] >= 0)
            {
                Reconcile(s.Items[match[j]], want.Items[j]);
                previous = match[j];
            }
            else InsertItem(s, previous, want.Items[j]);
        }
    }

    void RemoveItem(YSeq s, int index) =>
        _edits.Add(new(LineStart(s.Items[index].Start), LineAfter(s.Items[index].End), ""));

    public void InsertItem(YSeq s, int afterIndex, DNode item)
    {
        int at = afterIndex >= 0 ? LineAfter(s.Items[afterIndex].End) : LineStart(s.Items[0].Start);
        InsertLines(at, RenderItem(item, s.Column - 1));
    }

    /// <summary>Inserts whole lines at a line start (or at the end of a file whose last line has no line break).</summary>
    public void InsertLines(int at, string lines)
    {
        bool unterminated = at == _text.Length && _text.Length > 0 && _text[^1] != '\n';
        _edits.Add(new(at, at, unterminated ? Eol + lines : lines + Eol));
    }

    static string Identity(YNode n) => n switch
    {
        YScalar s => "=" + s.Value,
        YMap m when m["name"] is YScalar name => "name=" + name.Value,
        YMap m when m["peer-address"] is YScalar addr => "peer=" + addr.Value + ":" + (m["peer-port"] as YScalar)?.Value,
        _ => "#" + n.Start,
    };

    static string Identity(DNode n) => n switch
    {
        DScalar s => "=" + s.Text,
        DMap m when m["name"] is DScalar name => "name=" + name.Text,
        DMap m when m["peer-address"] is DScalar addr => "peer=" + addr.Text + ":" + (m["peer-port"] as DScalar)?.Text,
        _ => "new",
    };

    // ---- rendering -------------------------------------------------------------------------------

    /// <summary>"key: value" or "key:" plus the nested block, first line without indentation.</summary>
    public string RenderEntry(string key, DNode value, int indent) =>
        ScalarText.Render(DNode.Str(key), flow: false) + RenderValueAfterKey(value, indent);

    /// <summary>What follows a key: ": scalar", ": []", ": |" plus a literal, or ":" plus the nested block.</summary>
    string RenderValueAfterKey(DNode value, int keyIndent) => value switch
    {
        DScalar s => ": " + ScalarText.Render(s, flow: false),
        DLiteral lit => ": |" + Eol + Indented(lit.Text, keyIndent + Style.MapIndent),
        DSeq { Items.Count: 0 } => ": []",
        DMap { Entries.Count: 0 } => ": {}",
        DSeq seq => ":" + Eol + string.Join(Eol, seq.Items.Select(i => RenderItem(i, keyIndent + Style.SeqIndent))),
        DMap map => ":" + Eol + new string(' ', keyIndent + Style.MapIndent) + RenderMapBody(map, keyIndent + Style.MapIndent),
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };

    /// <summary>A list item at the given dash column, with its leading indentation.</summary>
    public string RenderItem(DNode item, int dashIndent)
    {
        string prefix = new string(' ', dashIndent) + "-" + new string(' ', Style.ItemOffset - 1);
        return item switch
        {
            DMap { Entries.Count: > 0 } m => prefix + RenderMapBody(m, dashIndent + Style.ItemOffset),
            DScalar s => prefix + ScalarText.Render(s, flow: false),
            _ => prefix + item.ToFlow(),
        };
    }

    /// <summary>The entries of a block map; the first line carries no indentation (the caller placed it).</summary>
    public string RenderMapBody(DMap map, int indent)
    {
        var pad = new string(' ', indent);
        return string.Join(Eol + pad, map.Entries.Select(e => RenderEntry(e.Key, e.Value, indent)));
    }

    string Indented(string text, int indent)
    {
        var pad = new string(' ', indent);
        var lines = text.TrimEnd('\n').Split('\n');
        return string.Join(Eol, lines.Select(l => l.Length == 0 ? "" : pad + l));
    }

    // ---- geometry ----------------------------------------------------------------------------------

    public int LineStart(int offset)
    {
        int i = _text.LastIndexOf('\n', Math.Max(0, Math.Min(offset, _text.Length) - 1));
        return offset == 0 ? 0 : i + 1;
    }

    /// <summary>The start of the line after the one where a node ends (the node's own trailing comment goes with it).</summary>
    public int LineAfter(int end)
    {
        if (end > 0 && end <= _text.Length && _text[end - 1] == '\n') return end;
        int i = _text.IndexOf('\n', end);
        return i < 0 ? _text.Length : i + 1;
    }

    bool InlineAfterDash(YScalar key)
    {
        int ls = LineStart(key.Start);
        return _text.AsSpan(ls, key.Start - ls).Trim().StartsWith("-");
    }
}

/// <summary>A string to be written as a literal block scalar (<c>|</c>), like Konvoy's <c>values</c>.</summary>
public sealed record DLiteral(string Text) : DNode
{
    public override bool Matches(YNode node) => node is YScalar s && s.Value == Text;
    public override string ToFlow() => ScalarText.DoubleQuoted(Text);
}
