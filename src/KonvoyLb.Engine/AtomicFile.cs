namespace KonvoyLb.Engine;

/// <summary>Writes a file so that readers see the old or the new content, never a half-written one.</summary>
public static class AtomicFile
{
    /// <summary>
    /// A temporary file beside the target, flushed to disk, given the target's mode, then renamed over
    /// it. With <paramref name="expected"/>, refuses when the file on disk is no longer those bytes.
    /// When the path is a symbolic link, the file it points to is replaced, so the link stays a link.
    /// </summary>
    public static void Write(string path, byte[] content, byte[]? expected = null)
    {
        bool exists = File.Exists(path);
        if (exists)
        {
            try { path = new FileInfo(Path.GetFullPath(path)).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path; }
            catch (IOException e) { throw Failed(path, e); }
        }
        if (expected is not null)
        {
            byte[] current;
            try { current = File.ReadAllBytes(path); }
            catch (IOException e) { throw Failed(path, e); }
            if (!current.AsSpan().SequenceEqual(expected))
                throw new LbException(ErrorId.FileChangedOnDisk, $"'{path}' changed on disk after it was read; nothing was written so that the other change is not lost.", path,
                    fix: "Run the command again: it will apply to the file as it is now.");
        }
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }
            if (exists && !OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw Failed(path, e);
        }
    }

    static LbException Failed(string path, Exception e) => new(ErrorId.FileWriteFailed, $"cannot write '{path}': {e.Message}", path, fix: "Check that the directory is writable and the disk is not full.", inner: e);
}
