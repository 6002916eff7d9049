using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>What went through an <see cref="ApiServerProxy"/> and what it did to it.</summary>
public sealed record ApiProxyStatistics(
    IReadOnlyDictionary<(string Verb, string Resource, string Code), long> Requests,
    long WatchesBroken,
    long WatchesHeld,
    long GoneAnswers,
    long Cuts);

/// <summary>
/// An HTTP proxy between VNodeMesh and the real API server, on 127.0.0.1, that a test or the load
/// tool uses to inject network faults into real traffic, not fakes: <see cref="Cut"/> drops every
/// request in flight and refuses new ones until <see cref="Restore"/>; <see cref="BreakWatches"/>
/// ends the watches in flight; <see cref="HoldWatches"/> keeps new watches waiting, so that they
/// resume from a resourceVersion the server may have compacted meanwhile (a real 410 Gone). Clients
/// reach it over plain HTTP through <see cref="Kubeconfig"/> with the original credentials; it goes
/// on over TLS with the original kubeconfig's trust and credentials. It counts every request by
/// verb, resource and status code.
/// </summary>
public sealed partial class ApiServerProxy : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "TE", "Trailer", "Host",
    };

    private static readonly byte[] GoneMarker = "\"code\":410"u8.ToArray();

    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly Uri _upstreamUri;
    private readonly string? _token;
    private readonly ConcurrentDictionary<long, (HttpContext Http, bool Watch)> _inFlight = new();
    private readonly ConcurrentDictionary<(string, string, string), long> _requests = new();
    private long _nextId, _watchesBroken, _watchesHeld, _gone, _cuts;
    private long _holdUntilTicks;
    private volatile bool _open = true;

    private ApiServerProxy(WebApplication app, HttpClient upstream, Uri upstreamUri, string? token)
    {
        _app = app;
        _upstream = upstream;
        _upstreamUri = upstreamUri;
        _token = token;
    }

    /// <summary>A copy of the kubeconfig that points at the proxy.</summary>
    public string Kubeconfig { get; private set; } = "";

    public Uri Address { get; private set; } = null!;

    public ApiProxyStatistics Statistics => new(
        _requests.ToDictionary(p => p.Key, p => p.Value),
        Interlocked.Read(ref _watchesBroken), Interlocked.Read(ref _watchesHeld), Interlocked.Read(ref _gone), Interlocked.Read(ref _cuts));

    public static async Task<ApiServerProxy> StartAsync(string kubeconfig)
    {
        var configuration = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
        var upstreamUri = new Uri(configuration.Host.TrimEnd('/') + "/");
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Trust(configuration) },
        };
        if (!string.IsNullOrEmpty(configuration.ClientCertificateData) || !string.IsNullOrEmpty(configuration.ClientCertificateFilePath))
        {
            handler.SslOptions.ClientCertificates = [ClientCertificate(configuration)];
        }

        var upstream = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            // Watches are long and quiet; bodies are small.
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            kestrel.Limits.MaxConcurrentConnections = null;
            kestrel.Limits.MaxConcurrentUpgradedConnections = null;
        });
        var app = builder.Build();
        var proxy = new ApiServerProxy(app, upstream, upstreamUri, configuration.AccessToken);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        proxy.Address = new Uri(address);
        proxy.Kubeconfig = Path.Combine(Path.GetTempPath(), $"vnodemesh-proxy-{Guid.NewGuid():N}.kubeconfig");
        await File.WriteAllTextAsync(proxy.Kubeconfig, ServerLine().Replace(await File.ReadAllTextAsync(kubeconfig), $"server: http://127.0.0.1:{proxy.Address.Port}"));
        return proxy;
    }

    /// <summary>Every request in flight fails (its connection drops) and new ones are refused, until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        _open = false;
        Interlocked.Increment(ref _cuts);
        foreach (var (http, _) in _inFlight.Values)
        {
            http.Abort();
        }
    }

    public void Restore() => _open = true;

    /// <summary>Ends every watch in flight (its connection drops); returns how many.</summary>
    public int BreakWatches()
    {
        var broken = 0;
        foreach (var (http, watch) in _inFlight.Values)
        {
            if (watch)
            {
                http.Abort();
                broken++;
            }
        }

        Interlocked.Add(ref _watchesBroken, broken);
        return broken;
    }

    /// <summary>New watches wait this long before they reach the API server (other requests go on).</summary>
    public void HoldWatches(TimeSpan duration) =>
        Interlocked.Exchange(ref _holdUntilTicks, (DateTimeOffset.UtcNow + duration).UtcTicks);

    private async Task HandleAsync(HttpContext http)
    {
        if (!_open)
        {
            http.Abort();
            return;
        }

        var aborted = http.RequestAborted;
        var query = http.Request.QueryString.Value ?? "";
        using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), new Uri(_upstreamUri, http.Request.Path.Value!.TrimStart('/') + query));
        var (verb, resource) = ApiRequestMetrics.Describe(request);
        var watch = verb == "watch" || query.Contains("watch=1", StringComparison.Ordinal);
        var id = Interlocked.Increment(ref _nextId);
        _inFlight[id] = (http, watch);
        var code = "error";
        try
        {
            var holdUntil = new DateTimeOffset(Interlocked.Read(ref _holdUntilTicks), TimeSpan.Zero);
            if (watch && holdUntil > DateTimeOffset.UtcNow)
            {
                Interlocked.Increment(ref _watchesHeld);
                await Task.Delay(holdUntil - DateTimeOffset.UtcNow, aborted);
            }

            foreach (var (name, values) in http.Request.Headers)
            {
                if (!HopByHop.Contains(name) && !name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
                {
                    request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
                }
            }

            if (request.Headers.Authorization is null && _token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            }

            if (http.Request.ContentLength > 0 || http.Request.Headers.TransferEncoding.Count > 0)
            {
                request.Content = new StreamContent(http.Request.Body);
                foreach (var (name, values) in http.Request.Headers)
                {
                    if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
                    {
                        request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
                    }
                }
            }

            using var response = await _upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, aborted);
            code = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            http.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(name))
                {
                    http.Response.Headers[name] = values.ToArray();
                }
            }

            if (watch)
            {
                await http.Response.StartAsync(aborted); // the headers go at once, as the API server sends them
            }

            await using var body = await response.Content.ReadAsStreamAsync(aborted);
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, aborted)) > 0)
            {
                await http.Response.Body.WriteAsync(buffer.AsMemory(0, read), aborted);
                if (watch)
                {
                    // A watch is a stream of events: each goes on at once, and an expired one is counted.
                    await http.Response.Body.FlushAsync(aborted);
                    if (buffer.AsSpan(0, read).IndexOf(GoneMarker) >= 0)
                    {
                        Interlocked.Increment(ref _gone);
                    }
                }
            }
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
            // cut, broken, or the client went away
        }
        catch (HttpRequestException)
        {
            if (!http.Response.HasStarted)
            {
                http.Response.StatusCode = StatusCodes.Status502BadGateway;
                code = "502";
            }
            else
            {
                http.Abort();
            }
        }
        finally
        {
            _inFlight.TryRemove(id, out _);
            if (code == "410")
            {
                Interlocked.Increment(ref _gone);
            }

            _requests.AddOrUpdate((verb, resource, code), 1, (_, n) => n + 1);
        }
    }

    /// <summary>The kubeconfig's client certificate and key (inline, base64 PEM, or files).</summary>
    private static X509Certificate2 ClientCertificate(KubernetesClientConfiguration configuration)
    {
        static string Pem(string? data, string? file) => !string.IsNullOrEmpty(data)
            ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(data))
            : File.ReadAllText(file!);
        return X509Certificate2.CreateFromPem(
            Pem(configuration.ClientCertificateData, configuration.ClientCertificateFilePath),
            Pem(configuration.ClientCertificateKeyData, configuration.ClientKeyFilePath));
    }

    /// <summary>The API server's certificate is checked against the kubeconfig's CA, unless it says to skip the check.</summary>
    private static RemoteCertificateValidationCallback Trust(KubernetesClientConfiguration configuration) => (_, certificate, _, errors) =>
    {
        if (configuration.SkipTlsVerify || errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || configuration.SslCaCerts is not { Count: > 0 } authorities)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    };

    public async ValueTask DisposeAsync()
    {
        Cut();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
        File.Delete(Kubeconfig);
    }

    [GeneratedRegex(@"server:\s*(\S+)")]
    private static partial Regex ServerLine();
}
