export { createHttpClient, defaultHttpPolicy, rewriteOrigin, type HttpPolicy } from './http-client.ts';
export { Downloader, type Downloaded, type DownloadRequest } from './download.ts';
export { createProgress, type DownloadProgress } from './progress.ts';
