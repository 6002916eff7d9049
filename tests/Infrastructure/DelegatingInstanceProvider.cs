namespace VNodeMesh.Tests.Infrastructure;

/// <summary>Passes every call to the real provider; a test overrides the calls it puts something between.</summary>
public abstract class DelegatingInstanceProvider(IInstanceProvider inner) : IInstanceProvider
{
    public string Name => inner.Name;

    public virtual Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default) =>
        inner.CreateContainerGroupAsync(request, cancellationToken);

    public virtual Task<ContainerGroupPage> DescribeChangedContainerGroupStatusAsync(ChangedSinceQuery query, CancellationToken cancellationToken = default) =>
        inner.DescribeChangedContainerGroupStatusAsync(query, cancellationToken);

    public Task DeleteContainerGroupAsync(string containerGroupId, CancellationToken cancellationToken = default) =>
        inner.DeleteContainerGroupAsync(containerGroupId, cancellationToken);

    public Task<IReadOnlyList<ContainerGroup>> DescribeContainerGroupStatusAsync(IReadOnlyList<string> containerGroupIds, CancellationToken cancellationToken = default) =>
        inner.DescribeContainerGroupStatusAsync(containerGroupIds, cancellationToken);

    public Task<ContainerGroupPage> DescribeContainerGroupsAsync(DescribeContainerGroupsQuery query, CancellationToken cancellationToken = default) =>
        inner.DescribeContainerGroupsAsync(query, cancellationToken);

    public Task<IReadOnlyList<ContainerGroupEvent>> DescribeContainerGroupEventsAsync(string containerGroupId, CancellationToken cancellationToken = default) =>
        inner.DescribeContainerGroupEventsAsync(containerGroupId, cancellationToken);

    public Task<string> DescribeContainerLogAsync(string containerGroupId, string containerName, int? tailLines = null, CancellationToken cancellationToken = default) =>
        inner.DescribeContainerLogAsync(containerGroupId, containerName, tailLines, cancellationToken);
}
