using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;
using Microsoft.Extensions.DependencyInjection;
using VNodeMesh.Silo.Local;

namespace VNodeMesh.Tests.Local;

public sealed class LocalStoreTests
{
    private sealed class TestState<T> : IGrainState<T>
    {
        [System.Diagnostics.CodeAnalysis.AllowNull]
        public T State { get; set; } = default!;
        public string? ETag { get; set; }
        public bool RecordExists { get; set; }
    }

    private static Serializer Serializer() => new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    [Fact]
    public async Task State_round_trips_through_bytes_and_a_stale_etag_is_refused()
    {
        var store = new LocalStore();
        var storage = new LocalGrainStorage(store, Serializer());
        var grain = GrainId.Create("pod", Guid.NewGuid().ToString("N"));

        var first = new TestState<List<string>> { State = ["one"] };
        await storage.WriteStateAsync("pod", grain, first);
        var stale = new TestState<List<string>>();
        await storage.ReadStateAsync("pod", grain, stale);
        Assert.Equal(["one"], stale.State);
        Assert.True(stale.RecordExists);

        first.State = ["two"];
        await storage.WriteStateAsync("pod", grain, first);
        stale.State = ["lost update"];
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("pod", grain, stale));

        // A second silo of the process sees the same store.
        var other = new TestState<List<string>>();
        await new LocalGrainStorage(store, Serializer()).ReadStateAsync("pod", grain, other);
        Assert.Equal(["two"], other.State);

        await storage.ClearStateAsync("pod", grain, other);
        Assert.Empty(other.State);
        var cleared = new TestState<List<string>>();
        await storage.ReadStateAsync("pod", grain, cleared);
        Assert.False(cleared.RecordExists);
    }

    [Fact]
    public async Task Reminder_rows_are_read_by_ring_range_including_a_wrapping_range()
    {
        var table = new LocalReminderTable(new LocalStore());
        var grains = Enumerable.Range(0, 200).Select(i => GrainId.Create("pod", i.ToString())).ToList();
        foreach (var grain in grains)
        {
            await table.UpsertRow(new ReminderEntry { GrainId = grain, ReminderName = "watchdog", Period = TimeSpan.FromMinutes(1), StartAt = DateTime.UtcNow });
        }

        const uint split = uint.MaxValue / 3;
        var low = (await table.ReadRows(split, 2 * split)).Reminders.Count;
        var wrapping = (await table.ReadRows(2 * split, split)).Reminders.Count;
        Assert.Equal(200, low + wrapping);
        Assert.Equal(grains.Count(g => g.GetUniformHashCode() > split && g.GetUniformHashCode() <= 2 * split), low);

        var row = await table.ReadRow(grains[0], "watchdog");
        Assert.NotNull(row);
        Assert.False(await table.RemoveRow(grains[0], "watchdog", "stale-etag"));
        Assert.True(await table.RemoveRow(grains[0], "watchdog", row.ETag!));
        Assert.Null(await table.ReadRow(grains[0], "watchdog"));
    }
}
