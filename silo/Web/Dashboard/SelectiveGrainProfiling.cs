using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Dashboard;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>
/// Orleans' dashboard times grain calls with a silo-wide filter. Any such filter makes Orleans send every grain call
/// through its filter pipeline (an invoker object per call, viewed or not: about 110 MB more allocated in a 50,000-pod
/// burst), and timing a call costs a few hundred bytes and a lock more. So the filter is left out unless
/// <see cref="DashboardOptions.ProfileGrainCalls"/> asks for it, and then pod grains (<see cref="NoProfilingAttribute"/>)
/// and Orleans' system targets (the reminder service) skip the timing: a pod's steps, with their durations, are in its
/// lifecycle trace instead.
/// </summary>
public sealed class SelectiveGrainProfilerFilter(IIncomingGrainCallFilter profiler) : IIncomingGrainCallFilter
{
    /// <summary>The class of Orleans' profiling filter (internal to Orleans.Dashboard), as registered.</summary>
    public const string OrleansProfilerFilter = "GrainProfilerFilter";

    private readonly ConcurrentDictionary<Type, bool> _profiled = new();

    public Task Invoke(IIncomingGrainCallContext context) =>
        _profiled.GetOrAdd(context.Grain.GetType(), IsProfiled) ? profiler.Invoke(context) : context.Invoke();

    private static bool IsProfiled(Type grain) =>
        !typeof(ISystemTarget).IsAssignableFrom(grain) && grain.GetCustomAttribute<NoProfilingAttribute>() is null;

    /// <summary>
    /// With <paramref name="profile"/>, puts this filter in front of the profiling filter <c>AddDashboard</c> registered;
    /// without, removes that filter, so that a grain call meets no filter at all and Orleans invokes it directly. An
    /// Orleans that renamed that filter leaves every call profiled (and fails the dashboard tests).
    /// </summary>
    public static void Configure(IServiceCollection services, bool profile)
    {
        var registration = services.LastOrDefault(d => d.ServiceType == typeof(IIncomingGrainCallFilter) && d.ImplementationType?.Name == OrleansProfilerFilter);
        if (registration?.ImplementationType is not { } type)
        {
            return;
        }

        services.Remove(registration);
        if (profile)
        {
            services.AddSingleton(type);
            services.AddSingleton<IIncomingGrainCallFilter>(sp => new SelectiveGrainProfilerFilter((IIncomingGrainCallFilter)sp.GetRequiredService(type)));
        }
    }
}
