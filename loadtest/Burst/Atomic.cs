namespace VNodeMesh.LoadTest.Burst;

/// <summary>Lock-free minimum and maximum of timestamps; 0 means "not set yet".</summary>
internal static class Atomic
{
    public static void Max(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    public static void Min(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (current == 0 || value < current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
