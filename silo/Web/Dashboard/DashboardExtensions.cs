using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Dashboard;

namespace VNodeMesh.Silo.Web.Dashboard;

public static class DashboardExtensions
{
    /// <summary>
    /// The dashboard's services (section <c>VNodeMesh:Dashboard</c>, validated at start-up) and, unless
    /// turned off, Orleans' own dashboard. Nothing is added while no access rule is configured.
    /// </summary>
    public static ISiloBuilder AddVNodeMeshDashboard(this ISiloBuilder silo, IConfiguration configuration)
    {
        var section = configuration.GetSection(DashboardOptions.Section);
        var services = silo.Services;
        services.AddOptions<DashboardOptions>().Bind(section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DashboardOptions>, DashboardOptionsValidator>());
        var options = section.Get<DashboardOptions>() ?? new();
        if (!options.Enabled)
        {
            return silo;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DashboardSessions>();
        services.AddSingleton<DashboardData>();
        services.AddSingleton<KubernetesTokenReviewer>();
        // No default scheme: only the dashboard's endpoints authenticate, so probes and metrics stay as they are.
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, DashboardAuthenticationHandler>(DashboardAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(DashboardAuthenticationHandler.Policy, policy => policy
            .AddAuthenticationSchemes(DashboardAuthenticationHandler.SchemeName)
            .RequireClaim(DashboardAuthenticationHandler.AccessClaim));
        if (options.OrleansDashboard)
        {
            silo.AddDashboard(o => o.CounterUpdateIntervalMs = (int)options.OrleansCounterInterval.TotalMilliseconds);
            OrleansCounterExport.Every(services, options.OrleansCounterInterval);
            SelectiveGrainProfilerFilter.Configure(services, options.ProfileGrainCalls);
        }

        return silo;
    }

    /// <summary>VNodeMesh's pages and Orleans' dashboard at <c>/dashboard</c>, all behind the configured access rule.</summary>
    public static WebApplication MapVNodeMeshDashboard(this WebApplication app)
    {
        var options = app.Configuration.GetSection(DashboardOptions.Section).Get<DashboardOptions>() ?? new();
        if (!options.Enabled)
        {
            app.Logger.LogInformation("The dashboard is off: set {Section}:Token (or {Section}:Auth to TokenReview, or to None for open access) to serve it",
                DashboardOptions.Section, DashboardOptions.Section);
            return app;
        }

        DashboardEndpoints.Map(app);
        if (options.OrleansDashboard)
        {
            app.MapOrleansDashboard("/dashboard").RequireAuthorization(DashboardAuthenticationHandler.Policy);
        }

        return app;
    }
}
