namespace VNodeMesh.Silo.Local;

/// <summary>Reminder rows in <see cref="LocalStore"/>: they outlive any one silo of the process.</summary>
public sealed class LocalReminderTable(LocalStore store) : IReminderTable
{
    private Dictionary<(GrainId GrainId, string Name), ReminderEntry> Rows => store.Reminders;

    public Task Init() => Task.CompletedTask;

    public Task<ReminderTableData> ReadRows(GrainId grainId)
    {
        lock (Rows)
        {
            return Task.FromResult(new ReminderTableData(Rows.Values.Where(r => r.GrainId == grainId).Select(Copy).ToList()));
        }
    }

    /// <summary>Rows whose grain hash is in the ring range (begin, end], which wraps when begin ≥ end.</summary>
    public Task<ReminderTableData> ReadRows(uint begin, uint end)
    {
        lock (Rows)
        {
            var rows = Rows.Values.Where(r =>
            {
                var hash = r.GrainId.GetUniformHashCode();
                return begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;
            });
            return Task.FromResult(new ReminderTableData(rows.Select(Copy).ToList()));
        }
    }

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName)
    {
        lock (Rows)
        {
            return Task.FromResult(Rows.TryGetValue((grainId, reminderName), out var row) ? Copy(row) : null);
        }
    }

    public Task<string?> UpsertRow(ReminderEntry entry)
    {
        var row = Copy(entry);
        row.ETag = store.NextETag();
        lock (Rows)
        {
            Rows[(entry.GrainId, entry.ReminderName)] = row;
        }

        return Task.FromResult<string?>(row.ETag);
    }

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        lock (Rows)
        {
            var key = (grainId, reminderName);
            return Task.FromResult(Rows.TryGetValue(key, out var row) && row.ETag == eTag && Rows.Remove(key));
        }
    }

    public Task TestOnlyClearTable()
    {
        lock (Rows)
        {
            Rows.Clear();
        }

        return Task.CompletedTask;
    }

    private static ReminderEntry Copy(ReminderEntry r) => new()
    {
        GrainId = r.GrainId,
        ReminderName = r.ReminderName,
        StartAt = r.StartAt,
        Period = r.Period,
        ETag = r.ETag,
    };
}
