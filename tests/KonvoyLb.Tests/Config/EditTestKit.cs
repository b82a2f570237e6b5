using System.Text;
using KonvoyLb.Engine.Config;

namespace KonvoyLb.Tests.Config;

/// <summary>Plans an edit on some text and returns the new text and its line diff.</summary>
public static class EditTestKit
{
    public static KonvoyFile Parse(string text, bool bom = false) =>
        KonvoyFile.FromBytes("cluster.yaml", (bom ? new byte[] { 0xEF, 0xBB, 0xBF } : Array.Empty<byte>()).Concat(Encoding.UTF8.GetBytes(text)).ToArray());

    public static string Edit(string text, Action<MetalLbConfig> change, bool? enabled = null)
    {
        var file = Parse(text);
        var config = file.Addon?.Config.Clone() ?? new MetalLbConfig();
        change(config);
        return file.Plan(config, enabled);
    }

    public static string Diff(string oldText, string newText) =>
        string.Join("\n", LineDiff.Compute(oldText, newText).Select(c => $"{c.Kind}{c.Line}: {c.Text}"));
}
