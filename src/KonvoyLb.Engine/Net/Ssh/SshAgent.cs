using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Renci.SshNet;
using Renci.SshNet.Security;

namespace KonvoyLb.Engine.Net.Ssh;

/// <summary>A key an ssh-agent holds: its public key blob (as in authorized_keys, decoded), its type and comment.</summary>
public sealed record AgentKey(byte[] Blob, string Type, string Comment);

/// <summary>
/// The client side of the ssh-agent protocol (draft-miller-ssh-agent): the keys the agent at SSH_AUTH_SOCK holds
/// log in as they do for ssh (keys added with ssh-add, a forwarded agent, a hardware token); the agent signs, the
/// private key never leaves it. SSH.NET has no agent support of its own: <see cref="KeysFor"/> is an
/// <see cref="IPrivateKeySource"/> for its public-key login. Every request uses a connection of its own, so hosts
/// probed in parallel may sign at once.
/// </summary>
public sealed class SshAgent
{
    const byte Failure = 5, RequestIdentities = 11, IdentitiesAnswer = 12, SignRequest = 13, SignResponse = 14;
    const uint RsaSha256 = 2, RsaSha512 = 4;
    static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    public string SocketPath { get; }
    public IReadOnlyList<AgentKey> Keys { get; }

    SshAgent(string socketPath, IReadOnlyList<AgentKey> keys)
    {
        SocketPath = socketPath;
        Keys = keys;
    }

    /// <summary>
    /// The agent's keys for one login, each once, but those in <paramref name="except"/> (offered from their files).
    /// A signature the agent refuses (a key that needs a confirmation nobody gives, a locked agent) goes to
    /// <paramref name="refusals"/> and fails that key alone: the login goes on with the next key, as ssh's does.
    /// </summary>
    public AgentKeys KeysFor(IEnumerable<byte[]> except, ICollection<string> refusals)
    {
        var skip = except.ToList();
        return new AgentKeys(this, Keys.Where(k => !skip.Any(b => b.AsSpan().SequenceEqual(k.Blob))).ToList(), refusals);
    }

    /// <summary>Some of the agent's keys as SSH.NET's private-key source.</summary>
    public sealed class AgentKeys : IPrivateKeySource
    {
        internal AgentKeys(SshAgent agent, IReadOnlyList<AgentKey> keys, ICollection<string> refusals)
        {
            Keys = keys;
            HostKeyAlgorithms = keys.Select(k => (HostAlgorithm)new AgentAlgorithm(agent, k, refusals)).ToList();
        }

        public IReadOnlyList<AgentKey> Keys { get; }
        public IReadOnlyCollection<HostAlgorithm> HostKeyAlgorithms { get; }
    }

    /// <summary>Lists the keys of the agent at <paramref name="socketPath"/>; an agent that cannot be reached or answers nonsense throws <see cref="IOException"/>.</summary>
    public static SshAgent Connect(string socketPath)
    {
        var answer = Request(socketPath, RequestIdentities, [], IdentitiesAnswer);
        var reader = new Reader(answer);
        uint count = reader.UInt32();
        var keys = new List<AgentKey>();
        for (uint i = 0; i < count; i++)
        {
            var blob = reader.Bytes();
            var comment = Encoding.UTF8.GetString(reader.Bytes());
            keys.Add(new AgentKey(blob, Encoding.ASCII.GetString(new Reader(blob).Bytes()), comment));
        }
        return new SshAgent(socketPath, keys);
    }

    /// <summary>
    /// The signature blob (string format, string signature) of <paramref name="data"/> with <paramref name="key"/>;
    /// a refusal (a key that needs confirmation, a locked agent) is an <see cref="IOException"/>.
    /// </summary>
    public byte[] Sign(AgentKey key, byte[] data, uint flags)
    {
        var body = new MemoryStream();
        WriteString(body, key.Blob);
        WriteString(body, data);
        Span<byte> f = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(f, flags);
        body.Write(f);
        return new Reader(Request(SocketPath, SignRequest, body.ToArray(), SignResponse)).Bytes();
    }

    /// <summary>
    /// The one signature algorithm a key of <paramref name="type"/> is offered with: every algorithm offered is an
    /// attempt that sshd counts against MaxAuthTries (6). RSA signs with SHA-512 (RFC 8332, OpenSSH 7.2 and later):
    /// ssh-rsa's SHA-1 is refused by current servers.
    /// </summary>
    static (string Name, uint Flags) Algorithm(string type) => type switch
    {
        "ssh-rsa" => ("rsa-sha2-512", RsaSha512),
        "ssh-rsa-cert-v01@openssh.com" => ("rsa-sha2-512-cert-v01@openssh.com", RsaSha512),
        _ => (type, 0u),
    };

    /// <summary>One request and its answer on a connection of its own; an answer of another type is an <see cref="IOException"/>.</summary>
    static byte[] Request(string socketPath, byte type, byte[] body, byte expected)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.SendTimeout = socket.ReceiveTimeout = (int)RequestTimeout.TotalMilliseconds;
        try
        {
            EndPoint endpoint;
            try { endpoint = new UnixDomainSocketEndPoint(socketPath); }
            catch (ArgumentException e) { throw new IOException($"'{socketPath}' cannot be a socket's path: {e.Message}", e); }
            socket.Connect(endpoint);
            var message = new byte[5 + body.Length];
            BinaryPrimitives.WriteUInt32BigEndian(message, (uint)(1 + body.Length));
            message[4] = type;
            body.CopyTo(message, 5);
            socket.Send(message);
            var header = ReadExactly(socket, 4);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (length is 0 or > 256 * 1024) throw new IOException($"the agent's answer has a length of {length} bytes");
            var answer = ReadExactly(socket, (int)length);
            if (answer[0] == Failure) throw new IOException("the agent refused (SSH_AGENT_FAILURE)");
            if (answer[0] != expected) throw new IOException($"the agent answered with message type {answer[0]}, not {expected}");
            return answer[1..];
        }
        catch (SocketException e) { throw new IOException(e.Message, e); }
    }

    static byte[] ReadExactly(Socket socket, int count)
    {
        var buffer = new byte[count];
        for (int read = 0; read < count;)
        {
            int n = socket.Receive(buffer, read, count - read, SocketFlags.None);
            if (n == 0) throw new IOException("the agent closed the connection");
            read += n;
        }
        return buffer;
    }

    static void WriteString(Stream s, byte[] value)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)value.Length);
        s.Write(length);
        s.Write(value);
    }

    /// <summary>
    /// The public key blob stored in the clear in an OpenSSH private key file (openssh-key-v1), even an encrypted one,
    /// else the one of the .pub file beside it; null when neither is there.
    /// </summary>
    public static byte[]? PublicBlobOf(string privateKeyPath)
    {
        try
        {
            var text = File.ReadAllText(privateKeyPath);
            const string Begin = "-----BEGIN OPENSSH PRIVATE KEY-----", End = "-----END OPENSSH PRIVATE KEY-----";
            int b = text.IndexOf(Begin, StringComparison.Ordinal), e = text.IndexOf(End, StringComparison.Ordinal);
            if (b >= 0 && e > b)
            {
                var raw = Convert.FromBase64String(string.Concat(text[(b + Begin.Length)..e].Where(c => !char.IsWhiteSpace(c))));
                var magic = "openssh-key-v1\0"u8;
                if (raw.AsSpan().StartsWith(magic))
                {
                    var reader = new Reader(raw[magic.Length..]);
                    reader.Bytes(); reader.Bytes(); reader.Bytes(); // cipher, kdf, kdf options
                    if (reader.UInt32() >= 1) return reader.Bytes();
                }
            }
            var pub = privateKeyPath + ".pub";
            if (File.Exists(pub) && File.ReadAllText(pub).Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var base64, ..])
                return Convert.FromBase64String(base64);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }

    sealed class AgentAlgorithm(SshAgent agent, AgentKey key, ICollection<string> refusals) : HostAlgorithm(Algorithm(key.Type).Name)
    {
        public override byte[] Data => key.Blob;

        public override byte[] Sign(byte[] data)
        {
            try { return agent.Sign(key, data, Algorithm(key.Type).Flags); }
            catch (IOException e)
            {
                lock (refusals) refusals.Add($"the ssh-agent at {agent.SocketPath} did not sign with its key {key.Type} '{key.Comment}': {e.Message}");
                // SSH.NET would end the whole login on an exception; a signature that cannot verify fails this key
                // alone, and the server asks for the next one.
                var blob = new MemoryStream();
                WriteString(blob, Encoding.ASCII.GetBytes(Name));
                WriteString(blob, new byte[64]);
                return blob.ToArray();
            }
        }

        // Only a login signs with these; nothing verifies with them.
        public override bool VerifySignature(byte[] data, byte[] signature) => throw new NotSupportedException();
    }

    /// <summary>SSH wire format (RFC 4251): uint32 and length-prefixed strings; running out of bytes is an <see cref="IOException"/>.</summary>
    sealed class Reader(byte[] data)
    {
        int at;

        public uint UInt32()
        {
            if (data.Length - at < 4) throw new IOException("the agent's answer is cut short");
            uint v = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            at += 4;
            return v;
        }

        public byte[] Bytes()
        {
            uint length = UInt32();
            if (length > data.Length - at) throw new IOException("the agent's answer is cut short");
            var v = data[at..(at + (int)length)];
            at += (int)length;
            return v;
        }
    }
}
