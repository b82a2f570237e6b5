namespace KonvoyLb.Engine.Config;

/// <summary>One changed line: removed (-) from the old text or added (+) in the new one.</summary>
public sealed record LineChange(char Kind, int Line, string Text)
{
    public override string ToString() => $"{Kind}{Line,5}: {Text}";
}

/// <summary>The lines that differ between two texts (longest common subsequence on the changed middle).</summary>
public static class LineDiff
{
    public static List<LineChange> Compute(string oldText, string newText)
    {
        var a = Split(oldText);
        var b = Split(newText);
        int prefix = 0;
        while (prefix < a.Length && prefix < b.Length && a[prefix] == b[prefix]) prefix++;
        int suffix = 0;
        while (suffix < a.Length - prefix && suffix < b.Length - prefix && a[^(suffix + 1)] == b[^(suffix + 1)]) suffix++;
        int n = a.Length - prefix - suffix, m = b.Length - prefix - suffix;

        // LCS table over the middle part only; edits are local, so this stays small.
        var lcs = new int[n + 1, m + 1];
        for (int i = n - 1; i >= 0; i--)
            for (int j = m - 1; j >= 0; j--)
                lcs[i, j] = a[prefix + i] == b[prefix + j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var changes = new List<LineChange>();
        int x = 0, y = 0;
        while (x < n || y < m)
        {
            if (x < n && y < m && a[prefix + x] == b[prefix + y]) { x++; y++; }
            else if (x < n && (y == m || lcs[x + 1, y] >= lcs[x, y + 1])) { changes.Add(new('-', prefix + x + 1, a[prefix + x])); x++; }
            else { changes.Add(new('+', prefix + y + 1, b[prefix + y])); y++; }
        }
        return changes;
    }

    static string[] Split(string text) => text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

    /// <summary>
    /// The changes one per line, each shown as the same line of <paramref name="oldShown"/> or
    /// <paramref name="newShown"/>: texts of the same lines with the secrets masked
    /// (<see cref="KonvoyFile.MaskedText"/>), since -WhatIf and -Verbose text ends up in logs.
    /// </summary>
    public static string Format(IEnumerable<LineChange> changes, string oldShown, string newShown)
    {
        var before = Split(oldShown);
        var after = Split(newShown);
        return string.Join(Environment.NewLine, changes.Select(c => c with { Text = (c.Kind == '-' ? before : after)[c.Line - 1] }));
    }
}
