using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KonvoyLb.Engine.Runtime.Observability;

/// <summary>How log lines are written: text for a terminal, JSON lines for a container's log collector.</summary>
public enum LogFormat { Text, Json }

public enum LogLevel { Debug, Info, Warning, Error }

/// <summary>
/// The runtime's structured log: one line per decision, with an event name and fields. Lines go to a sink (the cmdlet
/// forwards them to its output); the log never throws, whatever the sink does. <see cref="Once"/> logs a failure the
/// first time it is seen (a missing RBAC rule is named once, not per retry) until <see cref="Forget"/> says it is over.
/// </summary>
public sealed class RuntimeLog
{
    readonly string _component;
    readonly LogFormat _format;
    readonly Action<string> _sink;
    readonly TimeProvider _time;
    readonly ConcurrentDictionary<string, byte> _once = new(StringComparer.Ordinal);

    public RuntimeLog(string component, LogFormat format, Action<string> sink, TimeProvider? time = null)
    {
        _component = component; _format = format; _sink = sink; _time = time ?? TimeProvider.System;
    }

    /// <summary>Lines below this level are dropped.</summary>
    public LogLevel MinimumLevel { get; init; } = LogLevel.Info;

    public void Debug(string @event, string message, params (string Key, object? Value)[] fields) => Write(LogLevel.Debug, @event, message, fields);
    public void Info(string @event, string message, params (string Key, object? Value)[] fields) => Write(LogLevel.Info, @event, message, fields);
    public void Warning(string @event, string message, params (string Key, object? Value)[] fields) => Write(LogLevel.Warning, @event, message, fields);
    public void Error(string @event, string message, params (string Key, object? Value)[] fields) => Write(LogLevel.Error, @event, message, fields);

    /// <summary>Logs under <paramref name="onceKey"/> only the first time; true if it was logged.</summary>
    public bool Once(string onceKey, LogLevel level, string @event, string message, params (string Key, object? Value)[] fields)
    {
        if (!_once.TryAdd(onceKey, 0)) return false;
        Write(level, @event, message, fields);
        return true;
    }

    /// <summary>The condition behind a <see cref="Once"/> key is over: it is logged again if it comes back. True if it was set.</summary>
    public bool Forget(string onceKey) => _once.TryRemove(onceKey, out _);

    /// <summary>Forgets every <see cref="Once"/> key starting with the prefix; true if any was set.</summary>
    public bool ForgetPrefix(string prefix)
    {
        bool any = false;
        foreach (var key in _once.Keys)
            if (key.StartsWith(prefix, StringComparison.Ordinal)) any |= _once.TryRemove(key, out _);
        return any;
    }

    public void Write(LogLevel level, string @event, string message, params (string Key, object? Value)[] fields)
    {
        if (level < MinimumLevel) return;
        string line;
        try { line = _format == LogFormat.Json ? Json(level, @event, message, fields) : Text(level, @event, message, fields); }
        catch (Exception e) { line = $"{Now()} error logFailed: {e.GetType().Name} while formatting {@event}"; }
        try { _sink(line); }
        catch (Exception) { /* a log sink must never take the runtime down */ }
    }

    string Now() => _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    static string LevelName(LogLevel l) => l switch { LogLevel.Debug => "debug", LogLevel.Info => "info", LogLevel.Warning => "warn", _ => "error" };

    string Text(LogLevel level, string @event, string message, (string Key, object? Value)[] fields)
    {
        var sb = new StringBuilder().Append(Now()).Append(' ').Append(LevelName(level).ToUpperInvariant().PadRight(5)).Append(' ')
            .Append(@event).Append(": ").Append(message);
        foreach (var (key, value) in fields)
            if (value is not null) sb.Append(' ').Append(key).Append('=').Append(Quote(Render(value)));
        return sb.ToString();
    }

    static string Quote(string s) => s.Length > 0 && s.All(c => c > ' ' && c != '"' && c != '=') ? s : JsonSerializer.Serialize(s);

    string Json(LogLevel level, string @event, string message, (string Key, object? Value)[] fields)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("ts", Now());
            w.WriteString("level", LevelName(level));
            w.WriteString("component", _component);
            w.WriteString("event", @event);
            w.WriteString("msg", message);
            foreach (var (key, value) in fields)
            {
                if (value is null) continue;
                switch (value)
                {
                    case bool b: w.WriteBoolean(key, b); break;
                    case int or long or double or float or decimal: w.WriteNumber(key, Convert.ToDouble(value, CultureInfo.InvariantCulture)); break;
                    case System.Collections.IEnumerable list and not string:
                        w.WriteStartArray(key);
                        foreach (var item in list) w.WriteStringValue(Render(item));
                        w.WriteEndArray();
                        break;
                    default: w.WriteString(key, Render(value)); break;
                }
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static string Render(object? value) => value switch
    {
        null => "",
        string s => s,
        TimeSpan t => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s",
        System.Collections.IEnumerable list => string.Join(",", list.Cast<object?>().Select(Render)),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
