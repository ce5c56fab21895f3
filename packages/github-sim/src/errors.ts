/** GitHub's error answers, thrown by the simulation and routes, sent by the app's error handler. */
import { DOCS } from './shapes.ts';

export interface ValidationItem {
  resource: string;
  code: string;
  field?: string;
  message?: string;
}

export class GitHubApiError extends Error {
  readonly status: number;
  readonly body: { message: string; errors?: ValidationItem[]; documentation_url: string };
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, errors?: ValidationItem[], headers: Record<string, string> = {}) {
    super(message);
    this.name = 'GitHubApiError';
    this.status = status;
    this.body = { message, ...(errors ? { errors } : {}), documentation_url: DOCS };
    this.headers = headers;
  }
}

/** GitHub answers 404 Not Found for anything unknown or not visible to the token. */
export const notFound = () => new GitHubApiError(404, 'Not Found');

/** GitHub's 422: `Validation Failed` with one item per problem. */
export const validationFailed = (...errors: ValidationItem[]) => new GitHubApiError(422, 'Validation Failed', errors);

/** A GraphQL error as GitHub returns it: HTTP 200, `data` null, `errors` with a type. */
export class GraphQLError extends Error {
  readonly type: string;

  constructor(type: 'NOT_FOUND' | 'UNPROCESSABLE' | 'INVALID', message: string) {
    super(message);
    this.name = 'GraphQLError';
    this.type = type;
  }
}
