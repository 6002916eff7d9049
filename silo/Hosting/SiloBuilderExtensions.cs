using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using VNodeMesh.Grains;
using VNodeMesh.Grains.Cluster;
using VNodeMesh.Silo.Local;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Eci;
using VNodeMesh.Silo.Providers.Redis;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.Silo.Hosting;

public static class SiloBuilderExtensions
{
    /// <summary>
    /// VNodeMesh's grains, options (validated at start-up) and provider. Services registered before
    /// this call win, so several in-process silos can share one cloud and one budget.
    /// </summary>
    public static ISiloBuilder AddVNodeMesh(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddValidatedOptions<PodLifecycleOptions>(configuration, PodLifecycleOptions.Section);
        services.AddValidatedOptions<VirtualNodeOptions>(configuration, VirtualNodeOptions.Section);
        services.AddValidatedOptions<ProviderQuotaOptions>(configuration, ProviderQuotaOptions.Section);
        services.AddValidatedOptions<SimulatorOptions>(configuration, "VNodeMesh:" + SimulatorOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SimulatorOptions>, SimulatorOptionsValidator>());
        services.AddValidatedOptions<NodesOptions>(configuration, NodesOptions.Section)
            .PostConfigure(o => o.Items = o.Items.Count > 0 ? o.Items : [new() { Name = NodesOptions.DefaultNodeName }]);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NodesOptions>, NodesOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<PodStageReporter>();
        services.TryAddSingleton(PodTraceSampler.All);
        services.TryAddSingleton<VirtualNodeGauges>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<PodStageReporter>());
        services.TryAddSingleton<IPodMirror, NoPodMirror>();
        services.TryAddSingleton<INodeConnector, NoNodeConnector>();
        services.AddProvider(configuration);
        services.AddHostedService<VirtualNodeKeeper>();
        return silo;
    }

    /// <summary>
    /// The cloud named by <c>VNodeMesh:Provider:Name</c>, behind the account's pacing: the process's own
    /// bucket, or on the cluster profile one shared by every silo through Redis.
    /// </summary>
    private static void AddProvider(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<ProviderOptions>(configuration, ProviderOptions.Section);
        Func<IServiceProvider, IInstanceProvider> cloud = static sp => sp.GetRequiredService<SimulatedCloud>();
        if (configuration[$"{ProviderOptions.Section}:{nameof(ProviderOptions.Name)}"] == EciProvider.ProviderName)
        {
            services.AddValidatedOptions<EciOptions>(configuration, EciOptions.Section);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EciOptions>, EciPlacementValidator>());
            // One long-lived client: connections are recycled by lifetime instead of by handler rotation.
            services.AddHttpClient(EciApiClient.HttpClientName)
                .UseSocketsHttpHandler((handler, _) => handler.PooledConnectionLifetime = TimeSpan.FromMinutes(2))
                .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
            services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<EciApiClient>(
                sp, sp.GetRequiredService<IHttpClientFactory>().CreateClient(EciApiClient.HttpClientName)));
            services.TryAddSingleton<IPodReferenceSource, NoPodReferences>();
            services.TryAddSingleton<EciProvider>();
            cloud = static sp => sp.GetRequiredService<EciProvider>();
        }

        services.TryAddSingleton<SimulatedCloud>();
        services.TryAddSingleton<IProviderBudget>(LocalProviderBudget.Instance);
        services.AddClusterProviderBudget(configuration);
        services.TryAddSingleton<IInstanceProvider>(sp => new PacedInstanceProvider(
            cloud(sp), sp.GetRequiredService<IOptions<ProviderQuotaOptions>>().Value, sp.GetRequiredService<IProviderBudget>()));
    }

    /// <summary>
    /// The local profile: localhost clustering, grain state and reminders in a <see cref="LocalStore"/>
    /// (shared by every silo of the process).
    /// </summary>
    public static ISiloBuilder UseLocalProfile(this ISiloBuilder silo, IConfiguration configuration, int siloIndex = 0)
    {
        var local = configuration.GetSection(LocalProfileOptions.Section).Get<LocalProfileOptions>() ?? new LocalProfileOptions();
        Validate(local);
        silo.UseLocalhostClustering(
            siloPort: local.SiloPort + siloIndex,
            gatewayPort: local.GatewayPort + siloIndex,
            primarySiloEndpoint: new IPEndPoint(IPAddress.Loopback, local.PrimarySiloPort));
        return silo.UseLocalStore();
    }

    /// <summary>Grain state and reminders in the process's <see cref="LocalStore"/>.</summary>
    public static ISiloBuilder UseLocalStore(this ISiloBuilder silo)
    {
        silo.AddReminders();
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        var services = silo.Services;
        services.TryAddSingleton<LocalStore>();
        services.AddSingleton<IReminderTable, LocalReminderTable>();
        services.AddGrainStorage(VNodeMeshStorage.Name, static (sp, _) => ActivatorUtilities.CreateInstance<LocalGrainStorage>(sp));
        return silo;
    }

    private static OptionsBuilder<T> AddValidatedOptions<T>(this IServiceCollection services, IConfiguration configuration, string section) where T : class =>
        services.AddOptions<T>().Bind(configuration.GetSection(section)).ValidateDataAnnotations().ValidateOnStart();

    private static void Validate<T>(T options) where T : notnull =>
        System.ComponentModel.DataAnnotations.Validator.ValidateObject(options, new(options), validateAllProperties: true);
}
