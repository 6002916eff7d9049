namespace VNodeMesh.Contracts.Provider;

/// <summary>
/// A serverless container cloud, modelled on the ECI OpenAPI. Failures are thrown as
/// <see cref="ProviderException"/> subclasses.
/// </summary>
public interface IInstanceProvider
{
    /// <summary>The provider's name in taints and tags (<c>simulator</c>, <c>eci</c>).</summary>
    string Name { get; }

    /// <summary>Idempotent on <see cref="CreateContainerGroupRequest.ClientToken"/>: a repeated token returns the instance it created.</summary>
    Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default);

    /// <summary>Status of at most <see cref="MaxStatusIds"/> instances; unknown ids are left out.</summary>
    Task<IReadOnlyList<ContainerGroup>> DescribeContainerGroupStatusAsync(IReadOnlyList<string> containerGroupIds, CancellationToken cancellationToken = default);

    /// <summary>Instances whose status changed in the last <see cref="ChangedSinceQuery.SinceSeconds"/> seconds, paged.</summary>
    Task<ContainerGroupPage> DescribeChangedContainerGroupStatusAsync(ChangedSinceQuery query, CancellationToken cancellationToken = default);

    Task<ContainerGroupPage> DescribeContainerGroupsAsync(DescribeContainerGroupsQuery query, CancellationToken cancellationToken = default);

    /// <summary>Throws <see cref="InstanceNotFoundException"/> when the instance does not exist.</summary>
    Task DeleteContainerGroupAsync(string containerGroupId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ContainerGroupEvent>> DescribeContainerGroupEventsAsync(string containerGroupId, CancellationToken cancellationToken = default);

    Task<string> DescribeContainerLogAsync(string containerGroupId, string containerName, int? tailLines = null, CancellationToken cancellationToken = default);

    public const int MaxStatusIds = 20;
}
