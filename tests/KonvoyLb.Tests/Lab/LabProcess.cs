using System.Diagnostics;
using System.Text;

namespace KonvoyLb.Tests.Lab;

/// <summary>What a finished (or timed-out) command did.</summary>
public sealed record ProcessResult(
    string Command, int ExitCode, string StdOut, string StdErr, bool TimedOut, TimeSpan Elapsed)
{
    /// <summary>Exited with 0 within its time.</summary>
    public bool Succeeded => !TimedOut && ExitCode == 0;

    /// <summary>Returns this result, or throws <see cref="LabCommandException"/> with the command's output.</summary>
    public ProcessResult EnsureSuccess() => Succeeded ? this : throw new LabCommandException(this);

    public override string ToString()
    {
        var s = new StringBuilder();
        s.Append('`').Append(Command).Append("` ");
        s.Append(TimedOut ? "timed out" : $"exited {ExitCode}");
        s.Append($" after {Elapsed.TotalMilliseconds:0} ms");
        if (StdOut.Length > 0) s.Append("\n--- stdout ---\n").Append(StdOut.TrimEnd());
        if (StdErr.Length > 0) s.Append("\n--- stderr ---\n").Append(StdErr.TrimEnd());
        return s.ToString();
    }
}

/// <summary>A lab command that failed; the message carries its output.</summary>
public sealed class LabCommandException(ProcessResult result) : Exception(result.ToString())
{
    public ProcessResult Result { get; } = result;
}

/// <summary>
/// A long-running helper started inside a lab namespace (tcpdump, a BGP daemon, a responder). It
/// leads its own process group; <see cref="Stop"/> (and the lab's Dispose) signal the whole group.
/// Its output is collected as it comes, so a chatty helper never blocks on a full pipe.
/// </summary>
public sealed class LabProcess : IDisposable
{
    readonly OutputCapture stdout, stderr;
    readonly Stopwatch clock;
    ProcessResult? result;

    internal LabProcess(string ns, string command, Process process, OutputCapture stdout, OutputCapture stderr, Stopwatch clock)
    {
        Namespace = ns;
        Command = command;
        Process = process;
        this.stdout = stdout;
        this.stderr = stderr;
        this.clock = clock;
    }

    public string Namespace { get; }
    public string Command { get; }
    /// <summary>The process itself (its standard streams are read by the lab: use <see cref="StdOut"/>).</summary>
    public Process Process { get; }
    /// <summary>PID, which is also the process group ID.</summary>
    public int Pid => Process.Id;
    public bool HasExited => Process.HasExited;
    /// <summary>Standard output so far.</summary>
    public string StdOut => stdout.Text;
    /// <summary>Standard error so far.</summary>
    public string StdErr => stderr.Text;

    /// <summary>
    /// Waits until standard output or standard error contains <paramref name="text"/> (for example
    /// tcpdump's "listening on"). False when the time runs out or the process exits without it.
    /// </summary>
    public bool WaitForOutput(string text, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        while (true)
        {
            if (StdOut.Contains(text, StringComparison.Ordinal) || StdErr.Contains(text, StringComparison.Ordinal))
                return true;
            if (Process.HasExited)
            {
                stdout.WaitForEnd(TimeSpan.FromMilliseconds(200));
                stderr.WaitForEnd(TimeSpan.FromMilliseconds(200));
                return StdOut.Contains(text, StringComparison.Ordinal) || StdErr.Contains(text, StringComparison.Ordinal);
            }
            if (deadline.Elapsed >= limit) return false;
            Thread.Sleep(10);
        }
    }

    /// <summary>Waits for the process to end by itself; TimedOut in the result when it is still running.</summary>
    public ProcessResult WaitForExit(TimeSpan timeout)
    {
        if (Process.WaitForExit(timeout)) return Finish(timedOut: false);
        return new ProcessResult(Command, -1, StdOut, StdErr, TimedOut: true, clock.Elapsed);
    }

    /// <summary>
    /// SIGTERM to the process group, then SIGKILL after <paramref name="grace"/> (default 1 s).
    /// Idempotent; returns what the process printed and its exit code.
    /// </summary>
    public ProcessResult Stop(TimeSpan? grace = null)
    {
        if (result is not null) return result;
        if (!Process.HasExited)
        {
            LabNative.KillGroup(Pid, LabNative.SIGTERM);
            if (!Process.WaitForExit(grace ?? TimeSpan.FromSeconds(1)))
            {
                LabNative.KillGroup(Pid, LabNative.SIGKILL);
                Process.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        // Whatever else is left in the group (children that ignored SIGTERM) goes too.
        LabNative.KillGroup(Pid, LabNative.SIGKILL);
        return Finish(timedOut: false);
    }

    /// <summary>Sends SIGTERM to the group without waiting (the lab uses it to stop many helpers at once).</summary>
    internal void SignalTerm()
    {
        if (result is null && !Process.HasExited) LabNative.KillGroup(Pid, LabNative.SIGTERM);
    }

    ProcessResult Finish(bool timedOut)
    {
        if (result is not null) return result;
        stdout.WaitForEnd(TimeSpan.FromSeconds(1));
        stderr.WaitForEnd(TimeSpan.FromSeconds(1));
        int code = Process.HasExited ? Process.ExitCode : -1;
        result = new ProcessResult(Command, code, StdOut, StdErr, timedOut, clock.Elapsed);
        return result;
    }

    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }

    public override string ToString() => $"[{Pid}] {Command}";
}

/// <summary>Collects one output stream of a child process without ever blocking it.</summary>
internal sealed class OutputCapture
{
    readonly StringBuilder text = new();
    readonly Task pump;

    public OutputCapture(StreamReader reader)
    {
        // A pipe from a child process is read synchronously even through ReadAsync, so each capture gets
        // a thread of its own: a dozen daemons must not starve the thread pool.
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pump = done.Task;
        new Thread(() =>
        {
            var buffer = new char[4096];
            try
            {
                int n;
                while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
                    lock (text) text.Append(buffer, 0, n);
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
            finally { done.TrySetResult(); }
        }) { IsBackground = true, Name = "lab output" }.Start();
    }

    public string Text { get { lock (text) return text.ToString(); } }

    /// <summary>Waits for end of stream (a daemonised grandchild may keep the pipe open: then give up).</summary>
    public bool WaitForEnd(TimeSpan timeout) => pump.Wait(timeout);
}

/// <summary>Starts commands in their own session and process group, with a bounded wait.</summary>
internal static class ProcessRunner
{
    /// <summary>Where tools are looked for (root's PATH has the sbin directories, a test runner's may not).</summary>
    public static readonly string ToolPath = BuildToolPath();

    static string BuildToolPath()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).ToList();
        foreach (var d in new[] { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin" })
            if (!dirs.Contains(d)) dirs.Add(d);
        return string.Join(':', dirs);
    }

    /// <summary>The full path of <paramref name="tool"/> on <see cref="ToolPath"/>, or null.</summary>
    public static string? FindTool(string tool)
    {
        if (tool.Contains('/')) return File.Exists(tool) ? tool : null;
        foreach (var dir in ToolPath.Split(':'))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public static string Describe(string file, IEnumerable<string> args) =>
        string.Join(' ', new[] { file }.Concat(args).Select(a =>
            a.Length == 0 || a.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$' or '\\')
                ? "'" + a.Replace("'", "'\\''") + "'"
                : a));

    /// <summary>
    /// Starts <paramref name="file"/> through setsid, so its PID is also its process group and
    /// session: a timeout or a stop signals everything it started.
    /// </summary>
    public static (Process Process, OutputCapture StdOut, OutputCapture StdErr) Start(string file, IEnumerable<string> args)
    {
        var setsid = FindTool("setsid") ?? throw new FileNotFoundException("setsid (util-linux) not found");
        var psi = new ProcessStartInfo(setsid)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(file);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["PATH"] = ToolPath;
        psi.Environment["LC_ALL"] = "C";
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        try { process.StandardInput.Close(); } catch (IOException) { }
        return (process, new OutputCapture(process.StandardOutput), new OutputCapture(process.StandardError));
    }

    /// <summary>Runs a command to its end, killing its process group when it outlives <paramref name="timeout"/>.</summary>
    public static ProcessResult Run(string file, IReadOnlyList<string> args, TimeSpan timeout)
    {
        var command = Describe(file, args);
        var clock = Stopwatch.StartNew();
        var (process, stdout, stderr) = Start(file, args);
        using (process)
        {
            bool timedOut = !process.WaitForExit(timeout);
            if (timedOut)
            {
                LabNative.KillGroup(process.Id, LabNative.SIGKILL);
                process.WaitForExit(TimeSpan.FromSeconds(5));
            }
            stdout.WaitForEnd(TimeSpan.FromSeconds(1));
            stderr.WaitForEnd(TimeSpan.FromSeconds(1));
            int code = process.HasExited ? process.ExitCode : -1;
            return new ProcessResult(command, timedOut ? -1 : code, stdout.Text, stderr.Text, timedOut, clock.Elapsed);
        }
    }
}
