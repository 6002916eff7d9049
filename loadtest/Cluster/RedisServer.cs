using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>
/// A <c>redis-server</c> of its own on 127.0.0.1: a free port, append-only persistence in a temporary
/// data directory it owns, no RDB snapshots. It can be stopped, killed (SIGKILL) and restarted on the
/// same port and directory, where it reloads its data from the AOF. Disposing kills only its own
/// process and removes the directory.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);

    private readonly string _executable;
    private Process? _process;
    private bool _disposed;

    private RedisServer(string executable, int port, string dataDirectory)
    {
        _executable = executable;
        Port = port;
        DataDirectory = dataDirectory;
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    public int Port { get; }

    public string DataDirectory { get; }

    /// <summary>The server's own log file, in its data directory.</summary>
    public string LogFile => Path.Combine(DataDirectory, "redis.log");

    /// <summary>The process id while it runs.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public bool IsRunning => ProcessId is not null;

    /// <summary>A StackExchange.Redis configuration string for it.</summary>
    public string ConfigurationString => $"127.0.0.1:{Port}";

    /// <summary>Starts a server and waits until it answers PING.</summary>
    public static async Task<RedisServer> StartAsync(string executable = "redis-server", CancellationToken cancellationToken = default)
    {
        var resolved = Resolve(executable);
        var directory = Directory.CreateTempSubdirectory("vnodemesh-redis-").FullName;
        for (var attempt = 1; ; attempt++)
        {
            var server = new RedisServer(resolved, FreePort(), directory);
            try
            {
                await server.RunAsync(cancellationToken);
                return server;
            }
            catch (Exception) when (attempt < 3 && !cancellationToken.IsCancellationRequested && server.PortWasTaken())
            {
                // Another process took the free port first: try another one.
                await server.DisposeAsync(keepDirectory: true);
                File.Delete(server.LogFile);
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Shuts the server down cleanly (the AOF is flushed), then waits for the process to exit.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        try
        {
            await CommandAsync("SHUTDOWN", TimeSpan.FromSeconds(5), cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException or TimeoutException)
        {
            // The connection closes as the server exits.
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill();
        }
    }

    /// <summary>Sends SIGKILL to the server's process, as a crash would, and waits for it to exit.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(); // SIGKILL on Linux
            process.WaitForExit(10_000);
        }
    }

    /// <summary>Starts the server again on the same port and data directory (stopping it first if it runs); it reloads its AOF.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await StopAsync(cancellationToken);
        await RunAsync(cancellationToken);
    }

    public ValueTask DisposeAsync() => DisposeAsync(keepDirectory: false);

    private async ValueTask DisposeAsync(bool keepDirectory)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        Kill();
        _process?.Dispose();
        _process = null;
        if (!keepDirectory)
        {
            // The process has just exited: its files may take a moment to be released.
            for (var attempt = 0; attempt < 5 && Directory.Exists(DataDirectory); attempt++)
            {
                try
                {
                    Directory.Delete(DataDirectory, recursive: true);
                }
                catch (IOException)
                {
                    await Task.Delay(100);
                }
            }
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DataDirectory,
        };
        foreach (var argument in new[]
        {
            "--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--dir", DataDirectory, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--logfile", LogFile,
        })
        {
            start.ArgumentList.Add(argument);
        }

        _process?.Dispose();
        try
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException($"{_executable} did not start");
        }
        catch (Win32Exception ex)
        {
            throw NotInstalled(_executable, ex);
        }

        // Nothing is read from them (the server logs to its file), but they must not fill up.
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        string? last = null;
        while (deadline.Elapsed < ReadyTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server on port {Port} exited with code {_process.ExitCode}: {LogTail()}");
            }

            try
            {
                // A server still loading its AOF answers -LOADING.
                last = await CommandAsync("PING", TimeSpan.FromSeconds(1), cancellationToken);
                if (last == "+PONG")
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or TimeoutException)
            {
                last = ex.Message;
            }

            await Task.Delay(20, cancellationToken);
        }

        Kill();
        throw new TimeoutException($"redis-server on port {Port} did not answer PING within {ReadyTimeout.TotalSeconds} s (last: {last}): {LogTail()}");
    }

    /// <summary>One inline command; returns the first line of the answer.</summary>
    private async Task<string> CommandAsync(string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cancel.CancelAfter(timeout);
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, Port, cancel.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), cancel.Token);
            var buffer = new byte[256];
            var read = await stream.ReadAsync(buffer, cancel.Token);
            if (read == 0)
            {
                throw new IOException("the server closed the connection");
            }

            return Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{command} had no answer within {timeout.TotalSeconds} s");
        }
    }

    private bool PortWasTaken() => LogTail().Contains("Address already in use", StringComparison.Ordinal);

    private string LogTail()
    {
        try
        {
            var lines = File.ReadAllLines(LogFile);
            return string.Join(" | ", lines.TakeLast(5));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private void KillOnExit(object? sender, EventArgs e) => Kill();

    private static string Resolve(string executable)
    {
        if (executable.Contains('/'))
        {
            return File.Exists(executable) ? executable : throw NotInstalled(executable, null);
        }

        var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, executable))
            .FirstOrDefault(File.Exists);
        return found ?? throw NotInstalled(executable, null);
    }

    private static InvalidOperationException NotInstalled(string executable, Exception? cause) => new(
        $"{executable} is not installed (or not on PATH): Redis comes from Debian's package, `apt-get install -y redis-server`.", cause);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
