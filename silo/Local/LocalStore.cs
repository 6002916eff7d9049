using System.Collections.Concurrent;

namespace VNodeMesh.Silo.Local;

/// <summary>
/// The local profile's durable store: grain state (serialized, so it is compact and never shared
/// by reference) and reminder rows. One instance is shared by every silo of a process, so that a
/// silo that dies loses nothing, as it would not with Redis in the cluster profile.
/// </summary>
public sealed class LocalStore
{
    internal ConcurrentDictionary<(string StateName, GrainId GrainId), StoredState> States { get; } = new();

    internal Dictionary<(GrainId GrainId, string Name), ReminderEntry> Reminders { get; } = [];

    private long _etag;

    internal string NextETag() => Interlocked.Increment(ref _etag).ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal sealed record StoredState(byte[] Data, string ETag);
}
