global using Microsoft.Extensions.DependencyInjection;
global using Microsoft.Extensions.Logging;
global using Microsoft.Extensions.Options;
global using VNodeMesh.Contracts.Grains;
global using VNodeMesh.Contracts.Lifecycle;
global using VNodeMesh.Contracts.Provider;
global using Orleans;
global using Orleans.Runtime;
