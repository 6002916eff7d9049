using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace VNodeMesh.Tests.Infrastructure;

/// <summary>
/// A TCP relay between VNodeMesh and the real API server (TLS passes through untouched), which a
/// test can cut (every connection drops, new ones are refused) and restore: a network fault, not a fake.
/// </summary>
public sealed partial class ApiServerProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Task _accepting;
    private volatile bool _open = true;

    public ApiServerProxy(string kubeconfig)
    {
        var text = File.ReadAllText(kubeconfig);
        _upstream = new Uri(ServerLine().Match(text).Groups[1].Value);
        _listener.Start();
        Kubeconfig = Path.Combine(Path.GetTempPath(), $"vnodemesh-proxy-{Guid.NewGuid():N}.kubeconfig");
        File.WriteAllText(Kubeconfig, ServerLine().Replace(text, $"server: https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}"));
        _accepting = AcceptAsync();
    }

    /// <summary>A copy of the kubeconfig that points at the proxy.</summary>
    public string Kubeconfig { get; }

    public void Cut()
    {
        _open = false;
        lock (_gate)
        {
            _connections.ForEach(c => c.Dispose());
            _connections.Clear();
        }
    }

    public void Restore() => _open = true;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            if (!_open)
            {
                client.Dispose();
                continue;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_upstream.Host, _upstream.Port, _stop.Token);
            lock (_gate)
            {
                _connections.Add(client);
                _connections.Add(upstream);
            }

            var a = client.GetStream().CopyToAsync(upstream.GetStream(), _stop.Token);
            var b = upstream.GetStream().CopyToAsync(client.GetStream(), _stop.Token);
            await Task.WhenAny(a, b);
        }
        catch (Exception)
        {
            // a cut or a closed connection: both sides are closed below
        }
        finally
        {
            client.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        await _accepting;
        File.Delete(Kubeconfig);
    }

    [GeneratedRegex(@"server:\s*(\S+)")]
    private static partial Regex ServerLine();
}
