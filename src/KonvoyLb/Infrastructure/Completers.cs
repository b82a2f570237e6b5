using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using KonvoyLb.Engine.Config;

namespace KonvoyLb.Infrastructure;

/// <summary>Completes names that exist in the cluster.yaml named by -Path/-LiteralPath (or ./cluster.yaml).</summary>
public abstract class FileNameCompleter : IArgumentCompleter
{
    protected abstract IEnumerable<string> Names(MetalLbConfig config);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            string path = (fakeBoundParameters["LiteralPath"] ?? fakeBoundParameters["Path"] ?? "cluster.yaml").ToString()!;
            // Resolve like the cmdlet will, through the session that is completing (a nested pipeline).
            using (var ps = PowerShell.Create(RunspaceMode.CurrentRunspace))
            {
                ps.AddScript("$ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($args[0])").AddArgument(path);
                path = ps.Invoke().FirstOrDefault()?.BaseObject as string ?? path;
            }
            var config = KonvoyFile.Load(path).Addon?.Config;
            if (config is null) return Array.Empty<CompletionResult>();
            var pattern = new WildcardPattern(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
            return Names(config).Where(n => pattern.IsMatch(n)).Distinct()
                .Select(n => new CompletionResult(n.Contains(' ') || n.Contains(':') ? $"'{n}'" : n, n, CompletionResultType.ParameterValue, n))
                .ToList();
        }
        catch (Exception)
        {
            // Completion must never throw at the user's prompt: an unreadable file just completes nothing.
            return Array.Empty<CompletionResult>();
        }
    }
}

public sealed class PoolNameCompleter : FileNameCompleter
{
    protected override IEnumerable<string> Names(MetalLbConfig c) => c.AddressPools?.Select(p => p.Name) ?? Enumerable.Empty<string>();
}

public sealed class PeerAddressCompleter : FileNameCompleter
{
    protected override IEnumerable<string> Names(MetalLbConfig c) => c.Peers?.Select(p => p.PeerAddress ?? "").Where(a => a.Length > 0) ?? Enumerable.Empty<string>();
}

public sealed class CommunityNameCompleter : FileNameCompleter
{
    protected override IEnumerable<string> Names(MetalLbConfig c) => c.BgpCommunities?.Select(x => x.Name) ?? Enumerable.Empty<string>();
}
