using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>
/// Orleans' dashboard reads Orleans' meter into its silo counters every second, whatever its
/// <c>CounterUpdateIntervalMs</c> says, viewed or not: every read observes all activations and the grain directory's
/// cache (2–3% of the managed samples in a profile of a 50,000-pod burst). This makes that read follow
/// <see cref="DashboardOptions.OrleansCounterInterval"/>, as the dashboard's other counters do.
/// </summary>
public static class OrleansCounterExport
{
    /// <summary>The class (internal to Orleans.Dashboard) that owns the dashboard's meter reader, and its interval.</summary>
    public const string OrleansDashboardHost = "DashboardHost";
    public const string ExportInterval = "ExportIntervalMilliseconds";

    /// <summary>
    /// Makes the host <c>AddDashboard</c> registered read Orleans' meter at <paramref name="interval"/>. An Orleans
    /// that renamed that class or its interval leaves the read at its own (and fails the dashboard tests).
    /// </summary>
    public static void Every(IServiceCollection services, TimeSpan interval)
    {
        var registration = services.LastOrDefault(d => d.ServiceType.Name == OrleansDashboardHost && d.ImplementationType == d.ServiceType
            && d.ServiceType.Assembly == typeof(Orleans.Dashboard.DashboardOptions).Assembly);
        if (registration?.ImplementationType is not { } host
            || host.GetProperty(ExportInterval, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public) is not { CanWrite: true } property)
        {
            return;
        }

        services.Remove(registration);
        services.AddSingleton(host, provider =>
        {
            var instance = ActivatorUtilities.CreateInstance(provider, host);
            property.SetValue(instance, (int)interval.TotalMilliseconds);
            return instance;
        });
    }
}
