using System.Security.Cryptography;
using System.Text;

namespace KonvoyLb.Engine.Net.Ssh;

/// <summary>What known_hosts says of a host's key.</summary>
public enum HostKeyVerdict { Known, Unknown, Mismatch }

/// <summary>
/// OpenSSH's known_hosts, read as ssh reads it: "host[,host...] keytype base64" lines, "[host]:port" for another port
/// than 22, hashed names (|1|salt|hmac-sha1), comments, and @revoked / @cert-authority markers (a revoked key is a
/// mismatch; CA lines are not used). New keys are appended as ssh's accept-new does.
/// </summary>
public sealed class KnownHosts
{
    readonly List<(string[] Names, string Type, byte[] Key, bool Revoked)> _entries = [];

    public string Path { get; }

    KnownHosts(string path) => Path = path;

    public static KnownHosts Load(string path)
    {
        var known = new KnownHosts(path);
        if (!File.Exists(path)) return known;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            bool revoked = false;
            if (parts[0].StartsWith('@'))
            {
                if (parts[0] != "@revoked") continue;
                revoked = true;
                parts = parts[1..];
            }
            if (parts.Length < 3) continue;
            try { known._entries.Add((parts[0].Split(','), parts[1], Convert.FromBase64String(parts[2]), revoked)); }
            catch (FormatException) { }
        }
        return known;
    }

    /// <summary>The name ssh looks up: the host, or [host]:port for a port other than 22.</summary>
    public static string NameOf(string host, int port) => port == 22 ? host : $"[{host}]:{port}";

    /// <summary>Known when a line for the host has this very key; Mismatch when lines for the host exist with other keys of this type (or revoke it).</summary>
    public HostKeyVerdict Check(string host, int port, string keyType, byte[] key, out IReadOnlyList<string> knownFingerprints)
    {
        var name = NameOf(host, port);
        var forHost = _entries.Where(e => e.Names.Any(n => Matches(n, name))).ToList();
        knownFingerprints = forHost.Where(e => e.Type == keyType).Select(e => Fingerprint(e.Key)).ToList();
        if (forHost.Any(e => e.Revoked && e.Key.AsSpan().SequenceEqual(key))) return HostKeyVerdict.Mismatch;
        if (forHost.Any(e => !e.Revoked && e.Type == keyType && e.Key.AsSpan().SequenceEqual(key))) return HostKeyVerdict.Known;
        return forHost.Any(e => !e.Revoked && e.Type == keyType) ? HostKeyVerdict.Mismatch : HostKeyVerdict.Unknown;
    }

    /// <summary>Appends a line for the host (the file and its folder made if missing, mode 600 as ssh keeps it).</summary>
    public void Add(string host, int port, string keyType, byte[] key)
    {
        lock (_entries)
        {
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
            if (dir is not null) Directory.CreateDirectory(dir);
            bool existed = File.Exists(Path);
            var text = File.Exists(Path) && new FileInfo(Path).Length > 0 && !File.ReadAllText(Path).EndsWith('\n') ? "\n" : "";
            File.AppendAllText(Path, text + $"{NameOf(host, port)} {keyType} {Convert.ToBase64String(key)}\n");
            if (!existed && !OperatingSystem.IsWindows()) File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _entries.Add(([NameOf(host, port)], keyType, key, false));
        }
    }

    /// <summary>"SHA256:..." as ssh-keygen -l prints it.</summary>
    public static string Fingerprint(byte[] key) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(key)).TrimEnd('=');

    static bool Matches(string pattern, string name)
    {
        if (!pattern.StartsWith("|1|", StringComparison.Ordinal)) return string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
        var parts = pattern.Split('|');
        if (parts.Length != 4) return false;
        try
        {
            using var hmac = new HMACSHA1(Convert.FromBase64String(parts[2]));
            return Convert.ToBase64String(hmac.ComputeHash(Encoding.ASCII.GetBytes(name))) == parts[3];
        }
        catch (FormatException) { return false; }
    }
}
