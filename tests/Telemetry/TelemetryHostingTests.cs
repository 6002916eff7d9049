using System.Net;
using Microsoft.Extensions.Options;
using VNodeMesh.Silo.Web;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>The silo process's probes and its telemetry settings, over real HTTP.</summary>
public sealed class TelemetryHostingTests
{
    [Theory]
    [InlineData("VNodeMesh:Telemetry:Traces:SamplingRatio", "1.5")]
    [InlineData("VNodeMesh:Telemetry:Otlp:Endpoint", "collector:4317")]
    [InlineData("VNodeMesh:Telemetry:Otlp:Endpoint", "ftp://collector/")]
    [InlineData("VNodeMesh:Telemetry:Otlp:Protocol", "udp")]
    [InlineData("VNodeMesh:Telemetry:Otlp:MetricExportInterval", "00:00:00.001")]
    [InlineData("VNodeMesh:Telemetry:Prometheus:Path", "metrics")]
    [InlineData("VNodeMesh:Telemetry:ServiceName", " ")]
    public async Task The_silo_refuses_to_start_with_an_invalid_telemetry_setting_and_names_it(string key, string value)
    {
        var app = SiloHost.CreateBuilder(TelemetrySilo.Args("telemetry-invalid", new Dictionary<string, string> { [key] = value })).Build();
        await using (app)
        {
            app.MapSiloEndpoints();
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
            Assert.Contains(key, error.Message);
        }
    }

    [Fact]
    public async Task Without_telemetry_settings_the_scrape_endpoint_is_served_and_nothing_else_is_needed()
    {
        await using var silo = await TelemetrySilo.StartAsync();

        // The silo activates its virtual node in the background once it has started; the gauge then counts its pods.
        var text = await silo.ScrapeUntilAsync(t => PrometheusText.Samples(t, "vnodemesh_pods").Any(s => s.Has("node", silo.Node)), TimeSpan.FromSeconds(30));
        Assert.Contains("# TYPE vnodemesh_pods gauge", text);
        Assert.Contains("dotnet_gc_collections_total", text); // the runtime's meter
        Assert.DoesNotContain("orleans_", text); // Orleans' meter only when asked for
    }

    [Fact]
    public async Task Prometheus_can_be_turned_off()
    {
        await using var silo = await TelemetrySilo.StartAsync(new Dictionary<string, string> { ["VNodeMesh:Telemetry:Prometheus:Enabled"] = "false" });
        using var response = await silo.Http.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Readiness_follows_the_silo_and_turns_false_as_soon_as_it_shuts_down()
    {
        var silo = await TelemetrySilo.StartAsync();
        await using (silo)
        {
            using (var live = await silo.Http.GetAsync("/healthz/live"))
            using (var ready = await silo.Http.GetAsync("/healthz/ready"))
            {
                Assert.Equal(HttpStatusCode.OK, live.StatusCode);
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            }

            // The silo leaves its cluster while HTTP still answers: the probe says so before the port closes.
            var stopping = silo.App.StopAsync();
            HttpStatusCode? seen = null;
            while (!stopping.IsCompleted && seen is null)
            {
                try
                {
                    using var ready = await silo.Http.GetAsync("/healthz/ready");
                    seen = ready.StatusCode == HttpStatusCode.OK ? null : ready.StatusCode;
                    if (seen is not null)
                    {
                        using var live = await silo.Http.GetAsync("/healthz/live");
                        Assert.Equal(HttpStatusCode.OK, live.StatusCode); // shutting down is no reason to be restarted
                    }
                }
                catch (HttpRequestException)
                {
                    break;
                }
            }

            await stopping;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, seen);
        }
    }
}
