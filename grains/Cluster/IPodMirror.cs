namespace VNodeMesh.Grains.Cluster;

/// <summary>
/// Where pod grains mirror their pods: the Kubernetes API in a cluster, nowhere in the local profile.
/// Calls return at once; an implementation queues, coalesces and paces the writes.
/// </summary>
public interface IPodMirror
{
    /// <summary>The status the pod's API object should show now; a newer view replaces an unwritten older one.</summary>
    void Publish(PodView view);

    /// <summary>Something the pod's owner should see as a Kubernetes Event; repeats are aggregated.</summary>
    void Record(PodReference pod, PodNote note);

    /// <summary>The pod's instance is released: its API object, if still there, can go (grace 0, UID precondition).</summary>
    void Remove(PodReference pod);
}

/// <summary>The local profile has no cluster to mirror to.</summary>
public sealed class NoPodMirror : IPodMirror
{
    public void Publish(PodView view) { }

    public void Record(PodReference pod, PodNote note) { }

    public void Remove(PodReference pod) { }
}
