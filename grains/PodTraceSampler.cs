namespace VNodeMesh.Grains;

/// <summary>
/// Which pods' lifecycles are traced: a share of them, chosen from the pod's UID, so every silo makes the same choice
/// at every step of the pod. <see cref="PodTracing"/> asks before it starts a pod's root span: a pod not chosen makes
/// no activity at all, where a sampler's dropped root would still make one that every await of the step carries.
/// </summary>
public sealed class PodTraceSampler
{
    /// <summary>Every pod: the tracer's own sampler, if any, decides alone.</summary>
    public static readonly PodTraceSampler All = new(1);

    private readonly ulong _bound;

    public PodTraceSampler(double ratio)
    {
        if (double.IsNaN(ratio) || ratio is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "A trace sampling ratio is between 0 and 1.");
        }

        Ratio = ratio;
        _bound = ratio == 1 ? ulong.MaxValue : (ulong)(ratio * ulong.MaxValue);
    }

    public double Ratio { get; }

    public bool Traces(Guid podUid)
    {
        if (_bound == ulong.MaxValue)
        {
            return true;
        }

        Span<byte> bytes = stackalloc byte[16];
        podUid.TryWriteBytes(bytes);
        // Mixed, so that UIDs that differ in a few bits only (time-ordered ones) are chosen as evenly as random ones.
        return Mix(BitConverter.ToUInt64(bytes) ^ Mix(BitConverter.ToUInt64(bytes[8..]))) < _bound;
    }

    /// <summary>SplitMix64's finalizer: every input bit moves every output bit.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
