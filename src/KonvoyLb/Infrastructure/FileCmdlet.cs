using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;

namespace KonvoyLb.Infrastructure;

/// <summary>Turns the engine's exceptions into ErrorRecords with a stable ErrorId and a fix.</summary>
public abstract class LbCmdlet : PSCmdlet
{
    internal static ErrorRecord ToErrorRecord(LbException e)
    {
        var category = e.Kind switch
        {
            ErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
            ErrorKind.InvalidData => ErrorCategory.InvalidData,
            ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            ErrorKind.WriteError => ErrorCategory.WriteError,
            ErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
            ErrorKind.NotImplemented => ErrorCategory.NotImplemented,
            ErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
            ErrorKind.LimitsExceeded => ErrorCategory.LimitsExceeded,
            ErrorKind.ConnectionError => ErrorCategory.ConnectionError,
            ErrorKind.SecurityError => ErrorCategory.SecurityError,
            ErrorKind.NotInstalled => ErrorCategory.NotInstalled,
            _ => ErrorCategory.InvalidOperation,
        };
        var record = new ErrorRecord(e, e.Id.ToString(), category, e.Findings.Count > 0 ? e.Findings.ToArray() : e.Target);
        // The message says what and where; the fix goes to RecommendedAction only, so it is not said twice.
        if (e.Fix is not null) record.ErrorDetails = new ErrorDetails(e.Problem) { RecommendedAction = e.Fix };
        return record;
    }

    /// <summary>
    /// Runs engine work; an engine failure stops the command with its ErrorRecord. Anything else the
    /// engine throws is a bug, still reported as a catalogued error (InternalError), never raw.
    /// </summary>
    protected T Run<T>(Func<T> work)
    {
        try { return work(); }
        catch (LbException e) { ThrowTerminatingError(ToErrorRecord(e)); throw; }
        catch (Exception e) when (IsUnexpected(e)) { ThrowTerminatingError(ToErrorRecord(LbErrors.Internal(e))); throw; }
    }

    protected void Run(Action work) => Run(() => { work(); return true; });

    /// <summary>PowerShell's own exceptions (a stopped pipeline, a terminating error, -ErrorAction Stop) pass through.</summary>
    static bool IsUnexpected(Exception e) => e is not (RuntimeException or OperationCanceledException);

    /// <summary>Writes a non-terminating error so that the pipeline goes on with the next input.</summary>
    protected void WriteLbError(LbException e) => WriteError(ToErrorRecord(e));

    // ---- async engine work -------------------------------------------------------------------------

    readonly CancellationTokenSource _cancel = new();
    /// <summary>Cancelled by Ctrl+C (StopProcessing).</summary>
    protected CancellationToken Cancel => _cancel.Token;

    protected override void StopProcessing() => _cancel.Cancel();

    /// <summary>
    /// Runs async engine work off the pipeline thread, which meanwhile shows a progress bar for
    /// <paramref name="activity"/> (when given) fed by <paramref name="progress"/> every 200 ms. Ctrl+C
    /// cancels the work and stops the command; engine failures become ErrorRecords as in <see cref="Run{T}"/>.
    /// </summary>
    protected T Await<T>(Func<CancellationToken, Task<T>> work, string? activity = null, Func<(string Status, int Percent)>? progress = null) => Run(() =>
    {
        var task = Task.Run(() => work(_cancel.Token));
        if (activity is not null)
        {
            var record = new ProgressRecord(1, activity, "starting");
            while (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(200))
            {
                if (progress is not null)
                {
                    var (status, percent) = progress();
                    record.StatusDescription = status;
                    record.PercentComplete = Math.Clamp(percent, 0, 100);
                }
                WriteProgress(record);
            }
            record.RecordType = ProgressRecordType.Completed;
            WriteProgress(record);
        }
        try { return task.GetAwaiter().GetResult(); }
        catch (OperationCanceledException) when (_cancel.IsCancellationRequested) { throw new PipelineStoppedException(); }
    });

    /// <summary>
    /// Runs one piece of async work per item at once, with one progress bar; each item's failure is its
    /// own (a non-terminating error, via <paramref name="failed"/>), so the others' results are kept.
    /// </summary>
    protected List<(TItem Item, TResult? Result)> AwaitEach<TItem, TResult>(IReadOnlyList<TItem> items, Func<TItem, CancellationToken, Task<TResult>> work,
        string activity, string noun) where TResult : class
    {
        var tasks = items.Select(i => Task.Run(() => work(i, _cancel.Token))).ToList();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Await(async _ => { try { await Task.WhenAll(tasks).ConfigureAwait(false); } catch { /* each one is looked at below */ } return true; }, activity, () =>
        {
            int done = tasks.Count(t => t.IsCompleted);
            return ($"{done} of {tasks.Count} {noun} ({clock.Elapsed.TotalSeconds:F0} s)", tasks.Count == 0 ? 100 : done * 100 / tasks.Count);
        });
        if (_cancel.IsCancellationRequested) throw new PipelineStoppedException();
        var results = new List<(TItem, TResult?)>();
        for (int i = 0; i < items.Count; i++)
        {
            var t = tasks[i];
            if (t.IsCompletedSuccessfully) { results.Add((items[i], t.Result)); continue; }
            var e = t.Exception?.InnerException ?? new TaskCanceledException();
            WriteLbError(e as LbException ?? LbErrors.Internal(e));
            results.Add((items[i], null));
        }
        return results;
    }
}

/// <summary>
/// Commands that work on a cluster.yaml: -Path (wildcards allowed, default ./cluster.yaml) or
/// -LiteralPath, both resolved against the PowerShell location and bindable from the pipeline.
/// </summary>
public abstract class FileCmdlet : LbCmdlet
{
    protected const string PathSet = "Path";
    protected const string LiteralPathSet = "LiteralPath";

    /// <summary>The cluster.yaml to read; relative paths are resolved against the current location.</summary>
    [Parameter(ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "cluster.yaml";

    /// <summary>The cluster.yaml to read, taken exactly as written (no wildcards).</summary>
    [Parameter(ParameterSetName = LiteralPathSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = "";

    /// <summary>The file system paths the parameters name.</summary>
    protected IEnumerable<string> ResolvePaths()
    {
        if (ParameterSetName == LiteralPathSet)
            return new[] { GetUnresolvedProviderPathFromPSPath(LiteralPath) };
        if (WildcardPattern.ContainsWildcardCharacters(Path))
        {
            try { return GetResolvedProviderPathFromPSPath(Path, out _); }
            catch (ItemNotFoundException) { }
        }
        return new[] { GetUnresolvedProviderPathFromPSPath(Path) };
    }

    protected KonvoyFile Load(string path) => Run(() => KonvoyFile.Load(path));

    /// <summary>
    /// YAML made from the files read: to the pipeline (one string per file), or with <paramref name="outFile"/> into
    /// that file, atomically, all of them one after the other (joined by <paramref name="separator"/>), never the last alone.
    /// </summary>
    protected void WriteYaml(IReadOnlyList<string> yaml, string? outFile, string action, string separator = "")
    {
        if (outFile is null)
        {
            WriteObject(yaml, enumerateCollection: true);
            return;
        }
        string target = GetUnresolvedProviderPathFromPSPath(outFile);
        if (yaml.Count > 0 && ShouldProcess(target, action))
            Run(() => AtomicFile.Write(target, System.Text.Encoding.UTF8.GetBytes(string.Join(separator, yaml))));
    }

    /// <summary>The metallb configuration of a file (or a copy of it), or the error that says how to add the addon.</summary>
    protected static MetalLbConfig RequireConfig(KonvoyFile file, MetalLbConfig? config) =>
        config ?? throw LbErrors.MetalLbAddonNotFound(file.Path);

    /// <summary>Decorates an output object with the file it came from, so it pipes into the next command.</summary>
    protected static PSObject WithPath(object item, string path)
    {
        var pso = PSObject.AsPSObject(item);
        pso.Properties.Add(new PSNoteProperty("Path", path));
        return pso;
    }
}

/// <summary>
/// Commands that read a MetalLB configuration from cluster.yaml (-Path, -LiteralPath) or, for clusters
/// not built with Konvoy, from a bare legacy config file or ConfigMap manifest (-MetalLbConfigPath).
/// </summary>
public abstract class ConfigSourceCmdlet : FileCmdlet
{
    protected const string MetalLbSet = "MetalLbConfig";

    /// <summary>A MetalLB legacy config file or ConfigMap manifest instead of a cluster.yaml.</summary>
    [Parameter(ParameterSetName = MetalLbSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string MetalLbConfigPath { get; set; } = "";

    protected bool FromMetalLbConfig => ParameterSetName == MetalLbSet;

    /// <summary>The configuration -MetalLbConfigPath names.</summary>
    protected ConfigDocument LoadMetalLbConfig() => Run(() => MetalLbConfigFile.Load(GetUnresolvedProviderPathFromPSPath(MetalLbConfigPath)));
}

/// <summary>
/// Commands that change cluster.yaml: plan the edit, show the changed lines under -WhatIf/-Confirm,
/// then write atomically.
/// </summary>
public abstract class EditCmdlet : FileCmdlet
{
    /// <summary>Returns the changed object after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// Applies a change to the metallb configuration of every file named. <paramref name="change"/> edits
    /// a copy of the model and returns what to pass through; <paramref name="enabled"/> switches the addon.
    /// </summary>
    protected void Edit(string target, string action, Func<KonvoyFile, MetalLbConfig?, object?> change, bool? enabled = null)
    {
        foreach (var path in ResolvePaths())
        {
            var file = Load(path);
            var config = file.Addon?.Config.Clone();
            object? result;
            try { result = change(file, config); }
            catch (LbException e) when (e.Id is ErrorId.PoolNotFound or ErrorId.PeerNotFound or ErrorId.CommunityNotFound)
            {
                // Like Remove-Item: a name that is not there is reported, and the other names go on.
                WriteLbError(e);
                continue;
            }
            catch (LbException e) { ThrowTerminatingError(ToErrorRecord(e)); throw; }
            // Switching the addon leaves the configuration as it is; the summary is the pass-through object.
            if (enabled is not null) config = null;
            string newText = Run(() => file.Plan(config, enabled));
            if (newText == file.Text)
            {
                WriteVerbose($"{target} in {path}: nothing to change.");
            }
            else
            {
                var changed = Run(() => KonvoyFile.FromBytes(file.Path, file.Encode(newText)));
                WarnAboutCluster(changed);
                string diff = LineDiff.Format(LineDiff.Compute(file.Text, newText), file.MaskedText(), changed.MaskedText());
                string note = config is not null && file.Addon is { ValuesIsInlineString: true }
                    ? $"{Environment.NewLine}(values is a quoted string: it is written anew as a literal block, 'values: |', with the same content)" : "";
                string description = $"{action} {target} in {path}:{note}{Environment.NewLine}{diff}";
                // ShouldProcess shows the description under -WhatIf, -Confirm and -Verbose: once.
                if (!ShouldProcess(description, description + Environment.NewLine + "Continue?", action)) continue;
                Run(() => file.Save(newText));
            }
            if (!PassThru) continue;
            if (result is not null) WriteObject(WithPath(result, path));
            else WriteObject(Run(() => ConfigSummary.From(KonvoyFile.Load(path))));
        }
    }

    /// <summary>
    /// MetalLB accepted the new configuration; warn about what it never checks (pools over node IPs,
    /// the pod or service subnet, the control-plane VIP, outside the nodes' subnet).
    /// </summary>
    void WarnAboutCluster(KonvoyFile changed)
    {
        try
        {
            foreach (var f in ConfigAnalyzer.Analyze(ConfigAnalyzer.ForKonvoyFile(changed)).Where(f => f.Severity >= Engine.Severity.Warning))
                WriteWarning(f.ToString());
        }
        catch (Engine.LbException e)
        {
            // An unreadable inventory must not block an edit that MetalLB accepts; say why the checks were skipped.
            WriteWarning($"the cluster checks were skipped: {e.Message}");
        }
    }
}
