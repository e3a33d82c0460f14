import { z } from 'zod';
import { addSuppressionsBody, createCampaignBody, createListBody, deliveriesQuery, suppressionsQuery, testSendBody } from './schemas.js';

const bodySchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

const errorResponse = {
  description: 'error',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: { type: 'string' },
          fields: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
        },
        required: ['error'],
      },
    },
  },
};

const ok = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
// 403: a foreign Host (without a token) or a foreign Origin; 415: a body of another type.
const errors = { '400': errorResponse, '401': errorResponse, '403': errorResponse, '404': errorResponse, '409': errorResponse, '415': errorResponse };
const jsonBody = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema: bodySchema(schema) } } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };

function queryParameters(schema: z.ZodObject) {
  const json = bodySchema(schema) as { properties: Record<string, unknown> };
  return Object.entries(json.properties).map(([name, s]) => ({ name, in: 'query', required: false, schema: s }));
}

function action(summary: string) {
  return { post: { summary, parameters: [idParam], responses: { '200': ok('the campaign after the change'), ...errors } } };
}

/** The API's OpenAPI 3.1 description, served at /openapi.json; request schemas come from the validators. */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Herald API', version, description: 'Bulk email campaigns: lists, campaigns, deliveries, suppressions.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'HERALD_API_TOKEN' } } },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/lists': {
        get: { summary: 'Lists with member counts', responses: { '200': ok('{ items }'), ...errors } },
        post: { summary: 'Create a list', requestBody: jsonBody(createListBody), responses: { '201': ok('the new list'), ...errors } },
      },
      '/api/v1/lists/{name}/recipients': {
        post: {
          summary: 'Import recipients from a CSV upload (email column required; name and any other columns become attributes)',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } } } },
          responses: { '200': ok('counts, and the first 1,000 rejected rows with line number and reason'), '413': errorResponse, ...errors },
        },
      },
      '/api/v1/campaigns': {
        get: { summary: 'The newest campaigns with sent/failed counts', responses: { '200': ok('{ items }'), ...errors } },
        post: { summary: 'Create a draft campaign', requestBody: jsonBody(createCampaignBody), responses: { '201': ok('the campaign'), ...errors } },
      },
      '/api/v1/campaigns/{id}': {
        get: { summary: 'A campaign with counts per status, rate, ETA, workers and the not-sent breakdown', parameters: [idParam], responses: { '200': ok('the campaign'), ...errors } },
      },
      '/api/v1/campaigns/{id}/start': action('Start (or restart) a campaign'),
      '/api/v1/campaigns/{id}/pause': action('Pause: workers stop within about a second and release what they had not sent'),
      '/api/v1/campaigns/{id}/resume': action('Resume a paused campaign'),
      '/api/v1/campaigns/{id}/cancel': action('Cancel a campaign for good'),
      '/api/v1/campaigns/{id}/test-send': {
        post: { summary: 'Send one rendered test message; delivery records are untouched', parameters: [idParam], requestBody: jsonBody(testSendBody), responses: { '200': ok('the provider id'), ...errors } },
      },
      '/api/v1/deliveries': {
        get: {
          summary: 'Delivery records, filtered, in pages (pass `next` as `after` for the next page)',
          parameters: queryParameters(deliveriesQuery),
          responses: { '200': ok('{ items, next }'), ...errors },
        },
      },
      '/api/v1/suppressions': {
        get: { summary: 'Suppressed addresses, newest first', parameters: queryParameters(suppressionsQuery), responses: { '200': ok('{ items }'), ...errors } },
        post: { summary: 'Suppress addresses', requestBody: jsonBody(addSuppressionsBody), responses: { '200': ok('{ added, alreadySuppressed }'), ...errors } },
      },
      '/api/v1/suppressions/{email}': {
        delete: { summary: 'Remove an address from the suppression list', parameters: [{ name: 'email', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': ok('removed'), ...errors } },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format' } } } },
    },
  };
}
