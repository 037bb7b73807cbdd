export { AuthReloader, type AuthReloaderOptions, type ReloadableFile } from './auth-reloader.js';
