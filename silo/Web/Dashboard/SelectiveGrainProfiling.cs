using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Dashboard;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>
/// Orleans' dashboard times every grain call while it is viewed, at a cost of a few hundred bytes and a lock per call:
/// at a burst's five calls per pod (three pod grain calls, the watchdog reminder set and removed) a viewed burst of
/// 50,000 pods allocated about 250 MB more. Pod grains (<see cref="NoProfilingAttribute"/>) and Orleans' system targets (the
/// reminder service) are therefore not profiled, and their calls skip the profiler without its per-call work; a pod's
/// steps, with their durations, are in its lifecycle trace instead. Every other grain is profiled as before.
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
    /// Puts this filter in front of the profiling filter <c>AddDashboard</c> registered. An Orleans that renamed that
    /// filter leaves every call profiled (and fails the dashboard tests).
    /// </summary>
    public static void Wrap(IServiceCollection services)
    {
        var registration = services.LastOrDefault(d => d.ServiceType == typeof(IIncomingGrainCallFilter) && d.ImplementationType?.Name == OrleansProfilerFilter);
        if (registration?.ImplementationType is { } type)
        {
            services.Remove(registration);
            services.AddSingleton(type);
            services.AddSingleton<IIncomingGrainCallFilter>(sp => new SelectiveGrainProfilerFilter((IIncomingGrainCallFilter)sp.GetRequiredService(type)));
        }
    }
}
