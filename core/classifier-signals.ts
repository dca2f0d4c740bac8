/**
 * Structured signals read out of failure *text*: the exception class names and error codes
 * that client libraries print, whatever the surrounding wording. A failure pasted into a
 * log or an issue has lost its object shape, but it still says `httpx.ReadTimeout:`,
 * `code: 'UND_ERR_SOCKET'`, `An error occurred (Throttling) when calling`, `<Code>SlowDown</Code>`
 * or `Error Code: RequestLimitExceeded`; those tokens are as reliable as the fields of a
 * live error object, so the classifier treats them like the names and codes it reads
 * from objects.
 *
 * Also here: the catalogs of those names per family, taken from the libraries' own
 * exception hierarchies (urllib3, requests, httpx/httpcore, aiohttp, websockets,
 * websocket-client, undici, Node, java.net, .NET, botocore's retry tables), so a class
 * the corpus never showed is still recognised.
 */

/** Every pattern below is bounded: the text they run on is capped by the classifier. */
const SIGNAL_PATTERNS: readonly RegExp[] = [
  // Dotted or bare class names that end like an exception: `aiohttp.client_exceptions.ServerDisconnectedError`,
  // `System.Net.Http.HttpRequestException`, `[cause]: SocketError`, `(ReadTimeoutError)`.
  /(?:^|[^\w.])(?:[A-Za-z_]\w{0,60}\.){0,8}([A-Z]\w{0,80}?(?:Error|Exception|Timeout|Failure|Exceeded|Throttled|Throttling|Closed|Disconnected|Refused|Reset))\b/gm,
  // Node/undici/axios/SDK codes: `code: 'ECONNRESET'`, `"code": "UND_ERR_SOCKET"`, `errno: 'EAI_AGAIN'`, `code = X`.
  /\b(?:code|errno|Code|errorCode|error_code|errorName|errorType|__type)["']?\s{0,3}(?:[:=]|=>)\s{0,3}["'`]?(?:[\w.]{1,80}#)?([A-Za-z][\w.]{1,80})/g,
  // AWS: `An error occurred (Throttling) when calling`, `<Code>SlowDown</Code>`, `Error Code: RequestLimitExceeded`,
  // `api error ThrottlingException:`, `ExceptionName: InternalError`, `Exception name: SlowDown`, `AWSError 'SlowDown'`.
  /An error occurred \((\w{1,80})\)/g,
  /<Code>\s{0,3}(\w{1,80})\s{0,3}<\/Code>/g,
  /\bError Code: (\w{1,80})/g,
  /\bapi error (\w{1,80}):/g,
  /\bException ?[Nn]ame: (\w{1,80})/g,
  /\bAWSError '(\w{1,80})'/g,
  // `Throttling: Rate exceeded`, `SlowDown: UnknownError`, `ExpiredToken: The security token…` at a line start.
  /^\s{0,8}([A-Z][a-z]+(?:[A-Z][a-z]+){0,6}): /gm,
];

/** Step Functions prints its own names (`Lambda.TooManyRequestsException`, `States.Timeout`). */
const STEP_FUNCTIONS_NAME = /\b((?:Lambda|States)\.[A-Z]\w{2,60})\b/g;

/** Most signals kept from one text: enough for any real traceback, bounded for pathological ones. */
const MAX_SIGNALS = 64;

/** Class names and error codes printed in `text`, in order of appearance, without duplicates. */
export function textSignals(text: string): string[] {
  const out = new Set<string>();
  for (const pattern of [...SIGNAL_PATTERNS, STEP_FUNCTIONS_NAME]) {
    for (const m of text.matchAll(pattern)) {
      const token = m[1];
      if (token !== undefined) out.add(token);
      if (out.size >= MAX_SIGNALS) return [...out];
    }
  }
  return [...out];
}

/**
 * The connection failed, not the work: client libraries' network and timeout classes and
 * OS/undici/Node codes. A read timeout on the client side is here too: the provider may be
 * slow, but nothing about the request is wrong.
 */
export const NETWORK_NAMES = [
  // Python built-ins and asyncio
  'ConnectionError', 'ConnectionRefusedError', 'ConnectionResetError', 'ConnectionAbortedError', 'BrokenPipeError',
  'TimeoutError', 'IncompleteReadError', 'RemoteDisconnected',
  // urllib3 / requests
  'ReadTimeoutError', 'ConnectTimeoutError', 'NewConnectionError', 'NameResolutionError', 'ProtocolError',
  'IncompleteRead', 'InvalidChunkLength', 'ChunkedEncodingError', 'ReadTimeout', 'ConnectTimeout', 'SSLEOFError',
  // httpx / httpcore
  // (httpcore's ReadError/WriteError are matched with their module: tarfile.ReadError is a corrupt archive)
  'WriteTimeout', 'PoolTimeout', 'ConnectError', 'RemoteProtocolError', 'NetworkError',
  // aiohttp
  'ClientConnectionError', 'ClientConnectionResetError', 'ClientOSError', 'ClientConnectorError', 'ClientConnectorDNSError',
  'ServerConnectionError', 'ServerDisconnectedError', 'ServerTimeoutError', 'ConnectionTimeoutError', 'SocketTimeoutError',
  'ClientPayloadError',
  // websockets / websocket-client
  'ConnectionClosed', 'ConnectionClosedError', 'WebSocketConnectionClosedException', 'WebSocketTimeoutException',
  // botocore
  'EndpointConnectionError', 'ProxyConnectionError',
  // undici / Node fetch
  'SocketError', 'HeadersTimeoutError', 'BodyTimeoutError', 'HttpClientConnectTimeoutError',
  // java.net / .NET
  // (.NET's TaskCanceledException and HttpRequestException also wrap cancellations and 4xx answers: matched by wording)
  'SocketTimeoutException', 'ConnectException', 'SocketException', 'UnknownHostException', 'NoRouteToHostException',
  // OpenAI/Anthropic Python SDKs
  'APIConnectionError', 'APITimeoutError',
  // AWS SDK names for the same
  'NetworkingError', 'RequestTimeout', 'RequestTimeoutException', 'PriorRequestNotComplete',
] as const;

export const NETWORK_CODES = [
  'ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN',
  'EHOSTDOWN', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'ERR_SOCKET_CONNECTION_TIMEOUT',
] as const;

/** AWS throttling codes: botocore's ThrottledRetryableChecker table, as AWS services send them. */
export const AWS_THROTTLING_NAMES = [
  'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottledException', 'TooManyRequestsException',
  'ProvisionedThroughputExceededException', 'ProvisionedThroughputExceeded', 'TransactionInProgressException',
  'TransactionConflictException', 'RequestLimitExceeded', 'BandwidthLimitExceeded', 'RequestThrottled', 'EC2ThrottledException',
  'CallerRateLimitExceeded',
] as const;

/** A service's own 5xx answer, by name. */
export const SERVICE_UNAVAILABLE_NAMES = [
  'ServiceUnavailable', 'ServiceUnavailableException', 'InternalServerError', 'InternalServerException', 'InternalFailure',
  'InternalError', 'ServiceException', 'InternalServerErrorException',
] as const;

/**
 * Failures a retry never cures and that are none of the fatal names either: credentials,
 * permissions, a missing object, a request the service rejects as malformed. A person
 * looks at them (Unclassified), so they must never reach a recoverable rule.
 */
export const NEEDS_A_PERSON_NAMES = [
  'AccessDenied', 'AccessDeniedException', 'AuthorizationError', 'UnauthorizedOperation', 'UnauthorizedException',
  'ExpiredToken', 'ExpiredTokenException', 'InvalidSignatureException', 'SignatureDoesNotMatch', 'RequestTimeTooSkewed',
  'InvalidAccessKeyId', 'InvalidClientTokenId', 'UnrecognizedClientException', 'NoCredentialsError', 'CredentialsProviderError',
  'NoSuchKey', 'NoSuchBucket', 'NoSuchKeyException', 'ResourceNotFoundException', 'ValidationException',
  'MissingRequiredParameter', 'InvalidParameterValue', 'InvalidParameterValueException', 'ConditionalCheckFailedException',
  'ClientConnectorSSLError', 'ClientConnectorCertificateError', 'SSLCertVerificationError',
] as const;

/**
 * Windows Sockets messages (WSAECONNRESET 10054, WSAECONNREFUSED 10061, WSAETIMEDOUT 10060)
 * as localized Windows prints them, cut to the stable head of each sentence so typographic
 * apostrophes and trailing punctuation do not matter.
 */
export const WINSOCK_LOCALIZED = [
  // 10054
  'An existing connection was forcibly closed by the remote host', 'An existing connection had to be closed by the remote host',
  'Eine vorhandene Verbindung wurde vom Remotehost geschlossen', 'Une connexion existante a dû être fermée par',
  'Se ha forzado la interrupción de una conexión existente por el host remoto', 'Connessione in corso interrotta forzatamente',
  'Foi forçado o cancelamento de uma conexão existente pelo host remoto', '既存の接続はリモート ホストに強制的に切断されました',
  '远程主机强迫关闭了一个现有的连接', '遠端主機已強制關閉一個現存的連線', 'Удаленный хост принудительно разорвал существующее подключение',
  '현재 연결은 원격 호스트에 의해 강제로 끊겼습니다',
  // 10061
  'No connection could be made because the target machine actively refused it',
  'Es konnte keine Verbindung hergestellt werden, da der Zielcomputer die Verbindung verweigerte',
  'Aucune connexion n’a pu être établie car l’ordinateur cible', "Aucune connexion n'a pu être établie car l'ordinateur cible",
  'No se puede establecer una conexión ya que el equipo de destino denegó', 'Nenhuma conexão pôde ser feita porque a máquina de destino',
  'Impossibile stabilire la connessione. Rifiuto persistente del computer di destinazione',
  '対象のコンピューターによって拒否されたため、接続できませんでした', '由于目标计算机积极拒绝，无法连接', '無法連線，因為目標電腦拒絕連線',
  'Подключение не установлено, т.к. конечный компьютер отверг запрос на подключение', '대상 컴퓨터에서 연결을 거부했으므로 연결하지 못했습니다',
  // 10060
  'A connection attempt failed because the connected party did not properly respond after a period of time',
  'Ein Verbindungsversuch ist fehlgeschlagen, da die Gegenstelle nach einer bestimmten Zeitspanne nicht richtig reagiert hat',
  'Une tentative de connexion a échoué car le parti connecté', 'Se produjo un error durante el intento de conexión ya que la parte conectada',
  '接続済みの呼び出し先が一定の時間を過ぎても正しく応答しなかったため', '由于连接方在一段时间后没有正确答复或连接的主机没有反应',
  'Попытка установить соединение была безуспешной',
] as const;
