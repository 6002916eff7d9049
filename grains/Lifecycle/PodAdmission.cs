using System.Globalization;
using k8s.Models;

namespace VNodeMesh.Grains.Lifecycle;

/// <summary>
/// Decides whether a pod can run on a virtual node and parses what its annotations ask for.
/// A refusal's message names the offending field, so the user knows exactly what to change.
/// </summary>
public static class PodAdmission
{
    public const string ReasonUnsupported = "UnsupportedPodSpec";
    public const string ReasonInvalidAnnotation = "InvalidAnnotation";
    public const int MinPendingMinutes = 10;
    public const int MaxPendingMinutes = 1440;

    public static PodEvent Admit(V1Pod pod)
    {
        var spec = pod.Spec;
        if (spec is null || spec.Containers is not { Count: > 0 })
        {
            return Unsupported("spec.containers: a pod needs at least one container");
        }

        if (spec.HostNetwork == true)
        {
            return Unsupported("spec.hostNetwork: host networking is not supported on a virtual node");
        }

        if (spec.HostPID == true || spec.HostIPC == true)
        {
            return Unsupported($"spec.{(spec.HostPID == true ? "hostPID" : "hostIPC")}: host namespaces are not supported on a virtual node");
        }

        for (var i = 0; i < (spec.Volumes?.Count ?? 0); i++)
        {
            if (spec.Volumes![i].HostPath is not null)
            {
                return Unsupported($"spec.volumes[{i}].hostPath (volume '{spec.Volumes[i].Name}'): hostPath volumes are not supported on a virtual node");
            }
        }

        if ((FindPrivileged(spec.InitContainers, "initContainers") ?? FindPrivileged(spec.Containers, "containers")) is { } privileged)
        {
            return Unsupported(privileged);
        }

        for (var i = 0; i < (pod.Metadata?.OwnerReferences?.Count ?? 0); i++)
        {
            var owner = pod.Metadata!.OwnerReferences[i];
            if (owner.Kind == "DaemonSet")
            {
                return Unsupported($"metadata.ownerReferences[{i}]: pods of DaemonSet '{owner.Name}' cannot run on a virtual node");
            }
        }

        return ParseSettings(pod.Metadata?.Annotations);
    }

    /// <summary>Parses eci-use-specs, eci-fail-strategy and eci-max-pending-minute.</summary>
    public static PodEvent ParseSettings(IDictionary<string, string>? annotations)
    {
        if (annotations is null)
        {
            return new Admitted(PodSettings.Default);
        }

        var specs = new List<InstanceSpec>();
        if (annotations.TryGetValue(PodAnnotations.UseSpecs, out var useSpecs))
        {
            foreach (var entry in useSpecs.Split(','))
            {
                if (InstanceSpec.TryParse(entry, out var error) is not { } spec)
                {
                    return InvalidAnnotation(PodAnnotations.UseSpecs, error!);
                }

                specs.Add(spec);
            }
        }

        var strategy = FailStrategy.FailBack;
        if (annotations.TryGetValue(PodAnnotations.FailStrategy, out var failStrategy))
        {
            switch (failStrategy.Trim())
            {
                case "fail-back": strategy = FailStrategy.FailBack; break;
                case "fail-over": strategy = FailStrategy.FailOver; break;
                case "fail-fast": strategy = FailStrategy.FailFast; break;
                default: return InvalidAnnotation(PodAnnotations.FailStrategy, $"'{failStrategy}' is not one of fail-back, fail-over, fail-fast");
            }
        }

        var maxPending = PodSettings.DefaultMaxPending;
        if (annotations.TryGetValue(PodAnnotations.MaxPendingMinute, out var maxPendingText))
        {
            if (!int.TryParse(maxPendingText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var minutes)
                || minutes is < MinPendingMinutes or > MaxPendingMinutes)
            {
                return InvalidAnnotation(PodAnnotations.MaxPendingMinute, $"'{maxPendingText}' is not a whole number of minutes from {MinPendingMinutes} to {MaxPendingMinutes}");
            }

            maxPending = TimeSpan.FromMinutes(minutes);
        }

        return new Admitted(new PodSettings(specs, strategy, maxPending));
    }

    private static string? FindPrivileged(IList<V1Container>? containers, string field)
    {
        for (var i = 0; i < (containers?.Count ?? 0); i++)
        {
            if (containers![i].SecurityContext?.Privileged == true)
            {
                return $"spec.{field}[{i}].securityContext.privileged (container '{containers[i].Name}'): privileged containers are not supported on a virtual node";
            }
        }

        return null;
    }

    private static Refused Unsupported(string message) => new(ReasonUnsupported, message);

    private static Refused InvalidAnnotation(string annotation, string problem) =>
        new(ReasonInvalidAnnotation, $"metadata.annotations[{annotation}]: {problem}");
}
