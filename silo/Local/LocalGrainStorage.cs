using Orleans.Serialization;
using Orleans.Storage;

namespace VNodeMesh.Silo.Local;

/// <summary>Grain storage over <see cref="LocalStore"/>, with ETag checks as a real store would make.</summary>
public sealed class LocalGrainStorage(LocalStore store, Serializer serializer) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (store.States.TryGetValue((stateName, grainId), out var stored))
        {
            grainState.State = serializer.Deserialize<T>(stored.Data);
            grainState.ETag = stored.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        var next = new LocalStore.StoredState(serializer.SerializeToArray(grainState.State), store.NextETag());
        var written = grainState.ETag is null
            ? store.States.TryAdd(key, next)
            : store.States.TryGetValue(key, out var current) && current.ETag == grainState.ETag && store.States.TryUpdate(key, next, current);
        if (!written)
        {
            throw new InconsistentStateException($"{stateName} of {grainId} was changed by another writer", store.States.TryGetValue(key, out var other) ? other.ETag : null, grainState.ETag);
        }

        grainState.ETag = next.ETag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        store.States.TryRemove((stateName, grainId), out _);
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
