namespace VNodeMesh.Silo.Providers.Simulator;

/// <summary>Pod annotations that script what the simulated cloud does with a pod (tests and scale runs).</summary>
public static class SimulatorAnnotations
{
    public const string Prefix = "sim.vnodemesh.io/";

    /// <summary>Seconds from Running to completion (a number, e.g. <c>30</c> or <c>0.5</c>); without it the pod runs forever.</summary>
    public const string RunSeconds = Prefix + "run-seconds";

    /// <summary>Exit code at completion (with <see cref="RunSeconds"/>): 0 → Succeeded, anything else → Failed.</summary>
    public const string ExitCode = Prefix + "exit-code";

    /// <summary>
    /// An ECI error code forced on every create of the pod: <c>OperationDenied.NoStock</c>,
    /// <c>InvalidParameter</c>, <c>ServiceUnavailable</c>, <c>Throttling.User</c>,
    /// <c>ExceededQuota.Instance</c>, <c>Forbidden.RAM</c>, …; mapped to the error kind its prefix implies.
    /// </summary>
    public const string FailCreate = Prefix + "fail-create";

    /// <summary>
    /// Seconds the containers take to stop when the instance is deleted (a preStop hook), at most the
    /// pod's <c>terminationGracePeriodSeconds</c> (30 by default), as ECI bounds it: the delete completes then.
    /// </summary>
    public const string StopSeconds = Prefix + "stop-seconds";
}
