using System.Net;
using k8s;
using k8s.Models;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>The API server of a <c>--kubernetes</c> run could not be used; the message says why.</summary>
public sealed class KubernetesUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The API server a <c>--kubernetes</c> burst runs against, and the plain client the tool itself uses.</summary>
public sealed class KubernetesTarget : IDisposable
{
    private KubernetesTarget(string kubeconfig, KubernetesClientConfiguration configuration)
    {
        Kubeconfig = kubeconfig;
        Host = configuration.Host;
        Client = new k8s.Kubernetes(configuration, new BufferedResponses());
    }

    public string Kubeconfig { get; }

    public string Host { get; }

    /// <summary>The tool's own client: pod creates, its watches, the baseline and the clean-up. Its requests are not VNodeMesh's.</summary>
    public IKubernetes Client { get; }

    /// <summary>The kubeconfig given with <c>--kubeconfig</c>, or else <c>$KUBECONFIG</c> (its first entry).</summary>
    public static string ResolveKubeconfig(string? option)
    {
        if (!string.IsNullOrWhiteSpace(option))
        {
            return File.Exists(option)
                ? Path.GetFullPath(option)
                : throw new KubernetesUnavailableException($"--kubeconfig '{option}': no such file");
        }

        var variable = Environment.GetEnvironmentVariable("KUBECONFIG");
        if (string.IsNullOrWhiteSpace(variable))
        {
            throw new KubernetesUnavailableException(
                "--kubernetes needs a kubeconfig: pass --kubeconfig PATH or set KUBECONFIG (neither is set)");
        }

        var first = variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        return File.Exists(first)
            ? Path.GetFullPath(first)
            : throw new KubernetesUnavailableException($"KUBECONFIG '{variable}': no such file");
    }

    /// <summary>Reads the kubeconfig and checks that its API server answers (its version) within 10 seconds.</summary>
    public static async Task<KubernetesTarget> ConnectAsync(string? kubeconfigOption, CancellationToken cancellationToken)
    {
        var path = ResolveKubeconfig(kubeconfigOption);
        KubernetesClientConfiguration configuration;
        try
        {
            configuration = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        }
        catch (Exception ex)
        {
            throw new KubernetesUnavailableException($"kubeconfig '{path}' cannot be used: {ex.Message}", ex);
        }

        // Deleting thousands of pods in one call takes longer than the client's default 100 s.
        configuration.HttpClientTimeout = TimeSpan.FromMinutes(10);
        var target = new KubernetesTarget(path, configuration);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await target.Client.Version.GetCodeAsync(timeout.Token);
            return target;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            target.Dispose();
            var why = ex is OperationCanceledException ? "no answer within 10 s" : Innermost(ex).Message;
            throw new KubernetesUnavailableException($"the API server {configuration.Host} (kubeconfig '{path}') is unreachable: {why}", ex);
        }
    }

    /// <summary>Waits until the node exists and is Ready (and, when it must take scheduled pods, no longer tainted not-ready).</summary>
    public async Task<V1Node> WaitForReadyNodeAsync(string name, bool schedulable, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        string state = "not registered";
        while (true)
        {
            try
            {
                var node = await Client.CoreV1.ReadNodeAsync(name, cancellationToken: cancellationToken);
                var ready = node.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
                var notReadyTaint = node.Spec?.Taints?.Any(t => t.Key == "node.kubernetes.io/not-ready") == true;
                if (ready && (!schedulable || !notReadyTaint))
                {
                    return node;
                }

                state = ready ? "Ready but still tainted node.kubernetes.io/not-ready" : "registered, not Ready";
            }
            catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
            {
                state = "not registered";
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw new TimeoutException($"virtual node {name} is {state} after {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    public async Task CreateNamespaceAsync(string name, string runId, CancellationToken cancellationToken) =>
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { [BurstPods.RunLabel] = runId } },
        }, cancellationToken: cancellationToken);

    /// <summary>
    /// Removes what a run left: the pods of each namespace with grace 0 (bound pods have no kubelet to
    /// finish a graceful delete), <paramref name="concurrency"/> deletes in flight (the API server's
    /// own delete-collection deletes one pod at a time), then the namespaces, the nodes and their
    /// Leases. Best effort: every failure is returned as a line, nothing throws.
    /// </summary>
    public async Task<List<string>> CleanUpAsync(IEnumerable<string> namespaces, IEnumerable<string> nodes, int concurrency, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        async Task Try(string what, Func<Task> action)
        {
            try
            {
                await action();
            }
            catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
            {
            }
            catch (Exception ex)
            {
                problems.Add($"{what}: {Describe(ex)}");
            }
        }

        var namespaceList = namespaces.ToList();
        var forced = new V1DeleteOptions { GracePeriodSeconds = 0 };
        foreach (var ns in namespaceList)
        {
            await Try($"deleting the pods of {ns}", async () =>
            {
                var names = new List<string>();
                string? continueToken = null;
                do
                {
                    var page = await Client.CoreV1.ListNamespacedPodAsync(ns, continueParameter: continueToken, limit: 1000, cancellationToken: cancellationToken);
                    names.AddRange(page.Items.Select(p => p.Metadata.Name));
                    continueToken = page.Metadata.ContinueProperty;
                }
                while (!string.IsNullOrEmpty(continueToken));

                var failed = 0;
                string? firstFailure = null;
                await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (name, ct) =>
                {
                    for (var attempt = 1; ; attempt++)
                    {
                        try
                        {
                            await Client.CoreV1.DeleteNamespacedPodAsync(name, ns, forced, gracePeriodSeconds: 0, cancellationToken: ct);
                            return;
                        }
                        catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
                        {
                            return;
                        }
                        catch (Exception ex) when (attempt < 5 && ApiErrors.IsTransient(ex))
                        {
                            await Task.Delay(200 * attempt, ct);
                        }
                        catch (Exception ex)
                        {
                            if (Interlocked.Increment(ref failed) == 1)
                            {
                                firstFailure = Describe(ex);
                            }

                            return;
                        }
                    }
                });
                if (failed > 0)
                {
                    problems.Add($"{failed} pods of {ns} could not be deleted, e.g.: {firstFailure}");
                }
            });
            await Try($"deleting namespace {ns}", () => Client.CoreV1.DeleteNamespaceAsync(ns, cancellationToken: cancellationToken));
        }

        foreach (var node in nodes)
        {
            await Try($"deleting node {node}", () => Client.CoreV1.DeleteNodeAsync(node, cancellationToken: cancellationToken));
            await Try($"deleting lease {NodeRegistration.LeaseNamespace}/{node}",
                () => Client.CoordinationV1.DeleteNamespacedLeaseAsync(node, NodeRegistration.LeaseNamespace, cancellationToken: cancellationToken));
        }

        // The namespace controller finishes once the pods are gone; wait a little so that a run leaves nothing behind.
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60);
        foreach (var ns in namespaceList)
        {
            while (true)
            {
                try
                {
                    await Client.CoreV1.ReadNamespaceAsync(ns, cancellationToken: cancellationToken);
                }
                catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
                {
                    break;
                }
                catch (Exception ex)
                {
                    problems.Add($"checking namespace {ns}: {Describe(ex)}");
                    break;
                }

                if (DateTimeOffset.UtcNow >= deadline)
                {
                    problems.Add($"namespace {ns} is still terminating after 60 s (is kube-controller-manager running?)");
                    break;
                }

                await Task.Delay(250, cancellationToken);
            }
        }

        return problems;
    }

    /// <summary>An API error as a line: the status code and the server's message, or the innermost exception's message.</summary>
    public static string Describe(Exception ex)
    {
        if (ex is k8s.Autorest.HttpOperationException { Response: { } response })
        {
            var body = response.Content ?? "";
            return $"{(int)response.StatusCode} {response.StatusCode}{(body.Length > 0 ? ": " + body[..Math.Min(300, body.Length)] : "")}";
        }

        return Innermost(ex).Message;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null && ex is not k8s.Autorest.HttpOperationException)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    public void Dispose() => Client.Dispose();
}
