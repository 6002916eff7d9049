using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>
/// Calls one action of the ECI OpenAPI: parameters as a signed (ACS3-HMAC-SHA256) form body, the
/// answer as JSON, errors as the provider contract's exceptions. Each attempt is signed afresh (a new
/// nonce and date); Polly retries only what may succeed again (5xx, timeouts, and throttled reads, after
/// the <c>x-acs-retry-after</c> the API asks for), bounds each attempt and the whole call, and opens the
/// circuit on an endpoint that keeps failing.
/// </summary>
public sealed partial class EciApiClient
{
    /// <summary>The <see cref="IHttpClientFactory"/> name of the client's connection pool.</summary>
    public const string HttpClientName = "eci";

    private const string FormContentType = "application/x-www-form-urlencoded";

    private readonly HttpClient _http;
    private readonly EciOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<EciApiClient> _logger;
    private readonly ResiliencePipeline<Answer> _pipeline;

    public EciApiClient(HttpClient http, IOptions<EciOptions> options, TimeProvider time, ILogger<EciApiClient> logger)
    {
        _http = http;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _pipeline = BuildPipeline(_options, time, logger);
    }

    /// <summary>Calls <paramref name="action"/>; returns the answer's JSON body.</summary>
    public async Task<JsonElement> CallAsync(string action, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(string.Join('&', parameters.Select(p => $"{AcsEncoding.PercentEncode(p.Key)}={AcsEncoding.PercentEncode(p.Value)}")));
        Answer answer;
        try
        {
            var context = ResilienceContextPool.Shared.Get(cancellationToken);
            context.Properties.Set(ActionKey, action);
            try
            {
                answer = await _pipeline.ExecuteAsync(
                    static async (ctx, state) => await state.Self.SendAsync(state.Action, state.Body, ctx.CancellationToken),
                    context,
                    (Self: this, Action: action, Body: body));
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
        }
        catch (BrokenCircuitException ex)
        {
            throw new TransientProviderException("CircuitOpen", $"{action}: the endpoint {_options.EffectiveEndpoint.Host} failed too often; calls resume after {_options.BreakDuration}", inner: ex);
        }
        catch (TimeoutRejectedException ex)
        {
            throw new TransientProviderException("Timeout", $"{action}: no answer within {ex.Timeout}", inner: ex);
        }
        catch (HttpRequestException ex)
        {
            throw new TransientProviderException("NetworkError", $"{action}: {ex.Message}", inner: ex);
        }

        if (answer.IsSuccess)
        {
            LogCall(action, answer.RequestId, (int)answer.Status);
            return answer.Body;
        }

        var error = EciErrors.ToException(answer.Status, answer.Code, answer.Message, answer.RequestId, answer.RetryAfter);
        LogFailure(action, answer.RequestId, (int)answer.Status, error.Error.Code, error.Error.Kind);
        throw error;
    }

    private async Task<Answer> SendAsync(string action, byte[] body, CancellationToken cancellationToken)
    {
        var endpoint = _options.EffectiveEndpoint;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["host"] = endpoint.Authority,
            ["content-type"] = FormContentType,
            [EciHeaders.Action] = action,
            [EciHeaders.Version] = EciOptions.ApiVersion,
            [EciHeaders.Date] = _time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            [EciHeaders.Nonce] = Guid.NewGuid().ToString("N"),
        };
        var authorization = AcsV3Signature.Sign("POST", "/", [], headers, body, _options.Credentials);

        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new(FormContentType);
        foreach (var (name, value) in headers)
        {
            if (name is not ("host" or "content-type"))
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var text = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return Answer.From(response, text);
    }

    private static readonly ResiliencePropertyKey<string> ActionKey = new("eci.action");

    private static ResiliencePipeline<Answer> BuildPipeline(EciOptions options, TimeProvider time, ILogger logger) =>
        new ResiliencePipelineBuilder<Answer> { TimeProvider = time }
            .AddTimeout(options.CallTimeout)
            .AddRetry(new RetryStrategyOptions<Answer>
            {
                MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                ShouldHandle = args => ValueTask.FromResult(options.MaxRetries > 0 && IsRetryable(args.Outcome)
                    && !(args.Outcome.Result.IsThrottled && SpendsBudget(args.Context.Properties.GetValue(ActionKey, "")))),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = TimeSpan.FromSeconds(10),
                // The API's own answer wins: it knows when the budget refills.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result.RetryAfter),
                OnRetry = args =>
                {
                    var action = args.Context.Properties.GetValue(ActionKey, "?");
                    var result = args.Outcome.Result;
                    LogRetry(logger, action, args.AttemptNumber + 1, result.RequestId, result.Code ?? args.Outcome.Exception?.GetType().Name, args.RetryDelay);
                    return default;
                },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<Answer>
            {
                // Only the endpoint's own failures count: throttling and bad requests are answers.
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is HttpRequestException or TimeoutRejectedException
                    || args.Outcome.Result.IsServerError),
                FailureRatio = options.BreakFailureRatio,
                MinimumThroughput = options.BreakMinimumCalls,
                SamplingDuration = options.BreakSamplingDuration,
                BreakDuration = options.BreakDuration,
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();

    /// <summary>
    /// Creates and deletes spend the account's budget, which the caller paces: a throttled one goes back
    /// to the caller (with the retry-after), since a retry from here would spend a token nobody counted.
    /// </summary>
    private static bool SpendsBudget(string action) => action is "CreateContainerGroup" or "DeleteContainerGroup";

    private static bool IsRetryable(Outcome<Answer> outcome) => outcome.Exception switch
    {
        HttpRequestException or TimeoutRejectedException => true,
        null => !outcome.Result.IsSuccess && (outcome.Result.IsServerError || outcome.Result.IsThrottled),
        _ => false,
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "ECI {Action}: HTTP {Status} (request {RequestId})")]
    private partial void LogCall(string action, string? requestId, int status);

    [LoggerMessage(Level = LogLevel.Information, Message = "ECI {Action} failed: HTTP {Status} {Code} ({Kind}, request {RequestId})")]
    private partial void LogFailure(string action, string? requestId, int status, string code, ProviderErrorKind kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ECI {Action} attempt {Attempt} failed with {Code} (request {RequestId}); retrying in {Delay}")]
    private static partial void LogRetry(ILogger logger, string action, int attempt, string? requestId, string? code, TimeSpan delay);

    /// <summary>One HTTP answer, read and parsed, so that retries can be decided on the error code.</summary>
    private readonly record struct Answer(HttpStatusCode Status, JsonElement Body, string? RequestId, string? Code, string? Message, TimeSpan? RetryAfter)
    {
        public bool IsSuccess => (int)Status is >= 200 and < 300;

        public bool IsServerError => (int)Status >= 500 && !IsThrottled;

        public bool IsThrottled => Status == HttpStatusCode.TooManyRequests || (Code is not null && EciErrors.IsThrottling(Code));

        public static Answer From(HttpResponseMessage response, byte[] text)
        {
            JsonElement body = default;
            try
            {
                if (text.Length > 0)
                {
                    using var document = JsonDocument.Parse(text);
                    body = document.RootElement.Clone();
                }
            }
            catch (JsonException)
            {
                // A proxy's HTML error page: the status says enough.
            }

            var isObject = body.ValueKind == JsonValueKind.Object;
            var requestId = isObject && body.TryGetProperty("RequestId", out var id) ? id.GetString()
                : response.Headers.TryGetValues(EciHeaders.RequestId, out var ids) ? ids.FirstOrDefault() : null;
            var success = response.IsSuccessStatusCode;
            return new(
                response.StatusCode,
                body,
                requestId,
                !success && isObject && body.TryGetProperty("Code", out var code) ? code.GetString() : null,
                !success && isObject && body.TryGetProperty("Message", out var message) ? message.GetString() : null,
                EciErrors.RetryAfter(response));
        }
    }
}
