using VNodeMesh.LoadTest.Burst;
using VNodeMesh.LoadTest.Cluster;

namespace VNodeMesh.Tests.LoadTest;

public sealed class SiloMetricsScraperTests
{
    [Fact]
    public void A_silo_scrape_gives_its_API_requests_retries_and_queues()
    {
        var counts = SiloMetricsScraper.Parse("""
            # TYPE vnodemesh_kubernetes_requests_total counter
            vnodemesh_kubernetes_requests_total{otel_scope_name="VNodeMesh",code="201",resource="events",verb="create"} 190
            vnodemesh_kubernetes_requests_total{otel_scope_name="VNodeMesh",code="200",resource="pods/status",verb="patch"} 497
            vnodemesh_kubernetes_requests_total{otel_scope_name="VNodeMesh",code="error",resource="pods/status",verb="patch"} 3
            vnodemesh_pod_retries_total{otel_scope_name="VNodeMesh"} 12
            vnodemesh_pod_retries_total_created{otel_scope_name="VNodeMesh"} 1700000000
            vnodemesh_kubernetes_status_queue{otel_scope_name="VNodeMesh"} 18
            vnodemesh_kubernetes_events_queue{otel_scope_name="VNodeMesh"} 4
            vnodemesh_pod_startup_duration_seconds_bucket{otel_scope_name="VNodeMesh",le="+Inf"} 5
            """);

        Assert.Equal(190, counts.Requests[new ApiRequestKind("create", "events", "201")]);
        Assert.Equal(497, counts.Requests[new ApiRequestKind("patch", "pods/status", "200")]);
        Assert.Equal(3, counts.Requests[new ApiRequestKind("patch", "pods/status", "error")]);
        Assert.Equal(3, counts.Requests.Count);
        Assert.Equal(12, counts.Retries);
        Assert.Equal(18, counts.StatusQueue);
        Assert.Equal(4, counts.EventQueue);
    }
}
