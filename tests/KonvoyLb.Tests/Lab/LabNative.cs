using System.Runtime.InteropServices;

namespace KonvoyLb.Tests.Lab;

/// <summary>The few libc calls the lab needs: entering a network namespace and signalling a process group.</summary>
internal static class LabNative
{
    const string Libc = "libc.so.6";
    public const int CLONE_NEWNET = 0x40000000;
    const int O_RDONLY = 0;
    const int O_CLOEXEC = 0x80000;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [DllImport(Libc, SetLastError = true)]
    static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport(Libc, SetLastError = true)]
    static extern int close(int fd);

    [DllImport(Libc, SetLastError = true)]
    static extern int setns(int fd, int nstype);

    [DllImport(Libc, SetLastError = true)]
    static extern int kill(int pid, int sig);

    /// <summary>Moves the calling thread (only it) into the network namespace bound at <paramref name="path"/>.</summary>
    public static void EnterNetworkNamespace(string path)
    {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw new IOException($"open({path}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        try
        {
            if (setns(fd, CLONE_NEWNET) != 0)
                throw new IOException($"setns({path}, CLONE_NEWNET) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>Sends <paramref name="signal"/> to a whole process group; false when the group no longer exists.</summary>
    public static bool KillGroup(int pgid, int signal)
    {
        if (pgid <= 1) throw new ArgumentOutOfRangeException(nameof(pgid));
        return kill(-pgid, signal) == 0;
    }

    /// <summary>Sends <paramref name="signal"/> to one process; false when it no longer exists.</summary>
    public static bool Kill(int pid, int signal)
    {
        if (pid <= 1) throw new ArgumentOutOfRangeException(nameof(pid));
        return kill(pid, signal) == 0;
    }
}
