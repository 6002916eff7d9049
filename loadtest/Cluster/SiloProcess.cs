using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>What one silo process is started with.</summary>
public sealed record SiloProcessStart
{
    /// <summary>The silo's number in its cluster (silo-1, silo-2, ...): names its log files.</summary>
    public required int Index { get; init; }

    /// <summary>VNodeMesh.Silo.dll, run with <c>dotnet</c>.</summary>
    public required string SiloDll { get; init; }

    /// <summary>Where its stdout and stderr are written.</summary>
    public required string RunDirectory { get; init; }

    /// <summary>Its settings (<c>VNodeMesh:Http:Port</c>, ...), passed as environment variables (<c>VNodeMesh__Http__Port</c>).</summary>
    public required IReadOnlyDictionary<string, string?> Settings { get; init; }

    /// <summary>Command-line arguments after the dll (e.g. <c>--kubeconfig PATH</c>).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    public required int SiloPort { get; init; }

    public required int GatewayPort { get; init; }

    public required int HttpPort { get; init; }
}

/// <summary>
/// One silo as an operating-system process: <c>dotnet VNodeMesh.Silo.dll</c> with its settings in its
/// environment, its output in files of the run directory. It is killed with SIGKILL (a crash) or
/// stopped with SIGTERM (a graceful shutdown), always by its own process id, and killed when the
/// tool exits (<see cref="ChildProcesses"/>).
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private const int TailLines = 40;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly Process _process;
    private readonly StreamWriter _stdout;
    private readonly StreamWriter _stderr;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();
    private bool _disposed;
    private bool _stopped;

    private SiloProcess(SiloProcessStart start, Process process, StreamWriter stdout, StreamWriter stderr)
    {
        Start = start;
        _process = process;
        _stdout = stdout;
        _stderr = stderr;
        ProcessId = process.Id;
        StartedAt = DateTimeOffset.UtcNow;
    }

    public SiloProcessStart Start { get; }

    public int Index => Start.Index;

    public string Name => $"silo-{Index}";

    public int SiloPort => Start.SiloPort;

    public int GatewayPort => Start.GatewayPort;

    public int HttpPort => Start.HttpPort;

    public int ProcessId { get; }

    public DateTimeOffset StartedAt { get; }

    /// <summary>When it was killed or stopped by this tool.</summary>
    public DateTimeOffset? EndedAt { get; private set; }

    public bool IsRunning => !_process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Whether a SIGTERM stopped it: it exited by itself in time, with code 0.</summary>
    public bool StoppedCleanly => _stopped && ExitCode == 0;

    /// <summary>How it ended, for a report: running, stopped (by SIGTERM, with its exit code), killed, or exited (by itself).</summary>
    public string Ended =>
        IsRunning ? "running" : _stopped ? $"stopped ({ExitCode})" : EndedAt is not null ? "killed" : $"exited ({ExitCode})";

    /// <summary>Its working set now; 0 once it has exited.</summary>
    public long WorkingSetBytes
    {
        get
        {
            try
            {
                _process.Refresh();
                return _process.HasExited ? 0 : _process.WorkingSet64;
            }
            catch (InvalidOperationException)
            {
                return 0;
            }
        }
    }

    public string StdoutFile => Path.Combine(Start.RunDirectory, $"{Name}.stdout.log");

    public string StderrFile => Path.Combine(Start.RunDirectory, $"{Name}.stderr.log");

    /// <summary>Starts the process; it is not ready until <see cref="WaitReadyAsync"/> says so.</summary>
    public static SiloProcess Launch(SiloProcessStart start)
    {
        if (!File.Exists(start.SiloDll))
        {
            throw new FileNotFoundException($"the silo {start.SiloDll} does not exist: build it first (dotnet build -c Release)", start.SiloDll);
        }

        Directory.CreateDirectory(start.RunDirectory);
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            WorkingDirectory = start.RunDirectory,
        };
        info.ArgumentList.Add(start.SiloDll);
        foreach (var argument in start.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in DefaultSettings(start).Concat(start.Settings))
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var stdout = new StreamWriter(Path.Combine(start.RunDirectory, $"silo-{start.Index}.stdout.log"), append: true) { AutoFlush = true };
        var stderr = new StreamWriter(Path.Combine(start.RunDirectory, $"silo-{start.Index}.stderr.log"), append: true) { AutoFlush = true };
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        }
        catch (Win32Exception ex)
        {
            stdout.Dispose();
            stderr.Dispose();
            throw new InvalidOperationException($"could not start dotnet for silo-{start.Index}: {ex.Message}", ex);
        }

        ChildProcesses.Register(process);
        var silo = new SiloProcess(start, process, stdout, stderr);
        process.OutputDataReceived += (_, e) => silo.Capture(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => silo.Capture(stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>
    /// Waits until <c>/healthz/ready</c> answers 200 (the silo is an active cluster member); fails
    /// with the end of its output if it exits or is not ready in time.
    /// </summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var url = new Uri($"http://127.0.0.1:{HttpPort}/healthz/ready");
        var last = "no answer";
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} (pid {ProcessId}) exited with code {_process.ExitCode} before it was ready: {Tail()}");
            }

            try
            {
                using var response = await Http.GetAsync(url, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex.Message;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"{Name} (pid {ProcessId}) was not ready within {timeout.TotalSeconds:0} s (last answer: {last}): {Tail()}");
    }

    /// <summary>SIGKILL, as a crash: nothing is handed over. Returns once the process is gone.</summary>
    public void Kill()
    {
        EndedAt ??= DateTimeOffset.UtcNow;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(); // SIGKILL to this process id only
            }
        }
        catch (InvalidOperationException)
        {
            // it exited meanwhile
        }

        _process.WaitForExit(10_000);
        ChildProcesses.Unregister(_process);
    }

    /// <summary>SIGTERM, the graceful shutdown; SIGKILL if it has not exited within <paramref name="timeout"/> (<see cref="Ended"/> says which).</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        EndedAt ??= DateTimeOffset.UtcNow;
        if (ChildProcesses.Terminate(_process))
        {
            using var wait = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(wait.Token);
                _stopped = true;
            }
            catch (OperationCanceledException)
            {
            }
        }

        Kill();
    }

    /// <summary>The last lines the process wrote, for an error message.</summary>
    public string Tail()
    {
        lock (_gate)
        {
            return _tail.Count == 0 ? "(no output)" : string.Join(Environment.NewLine, _tail);
        }
    }

    /// <summary>Whether a line of its output contains <paramref name="text"/> (e.g. a log message).</summary>
    public bool OutputContains(string text)
    {
        _stdout.Flush();
        using var stream = new FileStream(StdoutFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private void Capture(StreamWriter file, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            file.WriteLine(line);
            _tail.Enqueue(line);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
        }
    }

    /// <summary>Console logs on one line with a timestamp, without the per-request and Orleans chatter, unless the settings say otherwise.</summary>
    private static IEnumerable<KeyValuePair<string, string?>> DefaultSettings(SiloProcessStart start) =>
    [
        new("Logging:Console:FormatterName", "simple"),
        new("Logging:Console:FormatterOptions:SingleLine", "true"),
        new("Logging:Console:FormatterOptions:TimestampFormat", "HH:mm:ss.fff "),
        new("Logging:LogLevel:Default", "Information"),
        new("Logging:LogLevel:Orleans", "Warning"),
        new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
        new("Logging:LogLevel:Polly", "Warning"),
        new("Logging:LogLevel:System.Net.Http", "Warning"),
        new("DOTNET_NOLOGO", "1"),
        new("VNodeMesh:Http:Address", "127.0.0.1"),
        new("VNodeMesh:Http:Port", start.HttpPort.ToString(CultureInfo.InvariantCulture)),
    ];

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        lock (_gate)
        {
            _disposed = true;
            _stdout.Dispose();
            _stderr.Dispose();
        }

        _process.Dispose();
    }
}
