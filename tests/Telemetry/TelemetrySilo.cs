using System.Globalization;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Silo.Web;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>
/// A real silo process in the test: <see cref="SiloHost"/> on the local profile with the zero-latency simulator and
/// an unlimited budget, serving HTTP on 127.0.0.1 (port 0), with a virtual node of its own.
/// </summary>
public sealed class TelemetrySilo : IAsyncDisposable
{
    private TelemetrySilo(WebApplication app, string node)
    {
        App = app;
        Node = node;
        Http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }
    public string Node { get; }
    public HttpClient Http { get; }
    public IGrainFactory Grains => App.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The command line of a silo with short retry and poll periods, plus <paramref name="settings"/>.</summary>
    public static string[] Args(string node, IReadOnlyDictionary<string, string>? settings = null)
    {
        var ports = LocalSiloCluster.FreePorts(2);
        var all = new Dictionary<string, string>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["VNodeMesh:Http:Address"] = "127.0.0.1",
            ["VNodeMesh:Http:Port"] = "0",
            ["VNodeMesh:Local:SiloPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["VNodeMesh:Local:PrimarySiloPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["VNodeMesh:Local:GatewayPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["VNodeMesh:Nodes:Items:0:Name"] = node,
            ["VNodeMesh:Simulator:Latency"] = "Zero",
            ["VNodeMesh:Simulator:QuotaUnlimited"] = "true",
            ["VNodeMesh:Provider:Quota:Unlimited"] = "true",
            ["VNodeMesh:Pods:RetryBaseDelay"] = "00:00:00.050",
            ["VNodeMesh:Pods:RetryMaxDelay"] = "00:00:00.500",
            ["VNodeMesh:VirtualNodes:PollInterval"] = "00:00:00.200",
            // Every silo of the test process traces on the same sources: an exporter's queue must not drop their spans.
            ["OTEL_BSP_MAX_QUEUE_SIZE"] = "1000000",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "500",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        return [.. all.Select(p => $"--{p.Key}={p.Value}")];
    }

    public static async Task<TelemetrySilo> StartAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var node = $"telemetry-{Guid.NewGuid():N}"[..18];
        var app = SiloHost.CreateBuilder(Args(node, settings)).Build();
        app.MapSiloEndpoints();
        await app.StartAsync();
        return new TelemetrySilo(app, node);
    }

    public Task SubmitAsync(params V1Pod[] pods) =>
        BurstScenario.SubmitWithRetryAsync(Grains.GetGrain<IVirtualNodeGrain>(Node), pods.Select(PodManifest.From).ToList(), CancellationToken.None);

    public async Task<PodSnapshot> WaitForAsync(Guid uid, Func<PodSnapshot, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var snapshot = await Grains.GetGrain<IPodGrain>(uid).GetSnapshot();
            if (done(snapshot))
            {
                return snapshot;
            }

            Assert.True(DateTime.UtcNow < deadline, $"pod {snapshot.Name} is {snapshot.Stage} ({snapshot.Reason} {snapshot.Message}) after {timeout}");
            await Task.Delay(100);
        }
    }

    /// <summary>Scrapes <c>/metrics</c> until <paramref name="done"/> holds for the text, which it returns.</summary>
    public async Task<string> ScrapeUntilAsync(Func<string, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            using var response = await Http.GetAsync("/metrics");
            response.EnsureSuccessStatusCode();
            var text = await response.Content.ReadAsStringAsync();
            if (done(text))
            {
                return text;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the scrape never showed what was expected:\n{text}");
            await Task.Delay(300);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }
}
